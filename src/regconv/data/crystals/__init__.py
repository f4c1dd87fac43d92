"""Periodic data sets generated offline: bulk copper on ASE's EMT potential, with energies,
forces and stress (:mod:`regconv.data.crystals.generate`), cached as extended XYZ with a
checksum (:mod:`regconv.data.crystals.cache`). ``python -m regconv.data.crystals`` builds it
and prints its path, which every energy + force reader and ``MD17DataModule(path=...,
stress=True)`` takes."""

from regconv.data.crystals.cache import copper_path, copper_protocol, ensure_copper
from regconv.data.crystals.generate import SEGMENTS, Segment, copper_cell, generate_copper

__all__ = [
    "SEGMENTS",
    "Segment",
    "copper_cell",
    "copper_path",
    "copper_protocol",
    "ensure_copper",
    "generate_copper",
]
