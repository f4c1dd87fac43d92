"""One input molecule of ``regconv md`` / ``regconv relax`` as ASE ``Atoms``, and extended-XYZ
frames written whole (a killed run leaves a readable file)."""

from __future__ import annotations

import io
import os
from pathlib import Path

__all__ = ["append_frame", "read_one_molecule"]


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


def append_frame(path: str | Path, atoms, energy: float, forces, info: dict | None = None) -> None:
    """Append ``atoms`` with its ``energy`` (eV) and ``forces`` (eV/Å) to an extended XYZ file:
    the frame is formatted in memory and written with one ``write`` and an fsync, so the file
    always ends with a complete frame."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    frame = atoms.copy()
    frame.info.update(info or {})
    frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces)
    buf = io.StringIO()
    write(buf, frame, format="extxyz")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(buf.getvalue())
        fh.flush()
        os.fsync(fh.fileno())
