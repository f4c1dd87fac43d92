"""One input molecule of molecular dynamics or a relaxation as ASE ``Atoms``, and extended-XYZ
frames written whole (a killed run leaves a readable file).

Shapes:
    a molecule of ``N`` atoms: ``numbers`` ``[N]``, ``positions`` and ``forces`` ``[N, 3]``
    (Å, eV/Å).
"""

from __future__ import annotations

import io
from pathlib import Path

__all__ = ["append_frame", "frame_text", "read_one_molecule"]


def read_one_molecule(path: str | Path):
    """The molecule of an (extended) XYZ file or ASE database as ``ase.Atoms`` (no cell, no
    periodicity). ``ValueError`` naming the file and line for malformed input, non-finite
    coordinates, unknown elements, or more than one molecule."""
    from ase import Atoms
    from regconv.data.molecules import read_molecules

    mols = read_molecules(path)
    if len(mols) != 1:
        raise ValueError(f"{path}: holds {len(mols)} molecules; give a file with exactly one")
    mol = mols[0]
    return Atoms(numbers=mol.z, positions=mol.pos)


def frame_text(atoms, energy: float, forces, info: dict | None = None) -> str:
    """``atoms`` with its ``energy`` (eV) and ``forces`` (eV/Å) as one extended-XYZ frame."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    frame = atoms.copy()
    frame.info.update(info or {})
    frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces)
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
