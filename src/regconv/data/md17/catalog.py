"""The ten rMD17 molecules as SMILES (hydrogens added by RDKit) and their RDKit start geometry.

Atom order: RDKit's, heavy atoms in SMILES order then the hydrogens (not rMD17's order).
"""

from __future__ import annotations

import numpy as np

__all__ = ["INSTALL_HINT", "MOLECULES", "NUM_ATOMS", "check_molecule", "start_geometry"]

INSTALL_HINT = "pip install 'regconv[md17]'"

MOLECULES: dict[str, str] = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",  # C9H8O4, 21 atoms
    "azobenzene": "c1ccc(cc1)/N=N/c1ccccc1",  # trans (E), C12H10N2, 24 atoms
    "benzene": "c1ccccc1",  # C6H6, 12 atoms
    "ethanol": "CCO",  # C2H6O, 9 atoms
    "malonaldehyde": "O/C=C\\C=O",  # the (Z)-enol, 3-hydroxyprop-2-enal, C3H4O2, 9 atoms
    "naphthalene": "c1ccc2ccccc2c1",  # C10H8, 18 atoms
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",  # C8H9NO2, 20 atoms
    "salicylic_acid": "OC(=O)c1ccccc1O",  # C7H6O3, 16 atoms
    "toluene": "Cc1ccccc1",  # C7H8, 15 atoms
    "uracil": "O=C1C=CNC(=O)N1",  # C4H4N2O2, 12 atoms
}
"""Molecule name -> SMILES (heavy atoms; all hydrogens are made explicit by ``AddHs``)."""

NUM_ATOMS: dict[str, int] = {
    "aspirin": 21,
    "azobenzene": 24,
    "benzene": 12,
    "ethanol": 9,
    "malonaldehyde": 9,
    "naphthalene": 18,
    "paracetamol": 20,
    "salicylic_acid": 16,
    "toluene": 15,
    "uracil": 12,
}
"""Atoms per molecule, hydrogens included (as in rMD17)."""


def check_molecule(name: str) -> str:
    """The catalogue name of ``name`` (case, spaces and hyphens ignored: ``"Salicylic acid"`` ->
    ``"salicylic_acid"``); ``ValueError`` listing the known molecules."""
    key = str(name).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in MOLECULES:
        raise ValueError(f"unknown molecule {name!r}; known: {', '.join(MOLECULES)}")
    return key


def start_geometry(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(z [N] int64, pos [N, 3] float64 Å)``: RDKit ``AddHs``, ``EmbedMolecule(randomSeed=
    seed)`` (ETKDG) and ``MMFFOptimizeMolecule`` of the molecule's SMILES. Deterministic.

    Raises:
        ImportError: RDKit is missing (the message names the ``md17`` extra).
        ValueError: an unknown molecule, a negative seed, or RDKit fails to embed.
    """
    name = check_molecule(name)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    try:
        from rdkit import Chem
        from rdkit.Chem import AllChem
    except ImportError as e:
        raise ImportError(
            f"the MD17 start geometries need RDKit: {INSTALL_HINT} (rdkit==2026.9.1)"
        ) from e
    mol = Chem.AddHs(Chem.MolFromSmiles(MOLECULES[name]))
    if AllChem.EmbedMolecule(mol, randomSeed=int(seed)) != 0:
        raise ValueError(f"RDKit could not embed {name} ({MOLECULES[name]}) with seed {seed}")
    if AllChem.MMFFOptimizeMolecule(mol, maxIters=2000) == -1:
        raise ValueError(f"RDKit has no MMFF parameters for {name} ({MOLECULES[name]})")
    z = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64)
    pos = np.asarray(mol.GetConformer().GetPositions(), dtype=np.float64)
    return z, pos
