"""One input molecule of molecular dynamics or a relaxation as ASE ``Atoms``, and extended-XYZ
frames written whole (a killed run leaves a readable file).

Shapes:
    a molecule of ``N`` atoms: ``numbers`` ``[N]``, ``positions`` and ``forces`` ``[N, 3]``
    (Å, eV/Å).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["append_frame", "frame_text", "read_one_molecule"]


def read_one_molecule(path: str | Path):
    """The one structure of an (extended) XYZ file or ASE database as ``ase.Atoms``: a molecule,
    or a periodic system where the frame has a cell (``Lattice=`` and ``pbc=``, or a periodic
    database row). ``ValueError`` naming the file and line for malformed input, non-finite
    coordinates, an unknown element, a singular or left-handed cell, or more than one
    structure."""
    from ase import Atoms
    from regconv.data.md17.cells import frame_cell
    from regconv.data.molecules import read_molecules

    mols = read_molecules(path, elements="any")
    if len(mols) != 1:
        raise ValueError(f"{path}: holds {len(mols)} molecules; give a file with exactly one")
    mol = mols[0]
    cell, pbc = frame_cell(mol.properties, mol.where)
    if cell is None:
        return Atoms(numbers=mol.z, positions=mol.pos)
    return Atoms(numbers=mol.z, positions=mol.pos, cell=cell, pbc=pbc)


def frame_text(
    atoms, energy: float, forces, info: dict | None = None, stress: np.ndarray | None = None
) -> str:
    """``atoms`` with its ``energy`` (eV), ``forces`` (eV/Å) and, if given, ``stress`` (eV/Å³)
    as one extended-XYZ frame (with ``Lattice`` and ``pbc`` for a periodic system)."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    frame = atoms.copy()
    frame.info.update(info or {})
    results = {"energy": energy, "forces": forces}
    if stress is not None:
        results["stress"] = stress
    frame.calc = SinglePointCalculator(frame, **results)
    buf = io.StringIO()
    write(buf, frame, format="extxyz")
    return buf.getvalue()


def append_frame(path: str | Path, atoms, energy: float, forces, info: dict | None = None) -> None:
    """Append the frame (:func:`frame_text`) to an extended XYZ file with one ``write``, flushed,
    so a killed process leaves a file that ends with a complete frame (no fsync: this runs
    every few MD steps, and a kill does not lose what the kernel already holds)."""
    text = frame_text(atoms, energy, forces, info)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
