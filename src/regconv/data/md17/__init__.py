"""MD17-class energy + force data (positions Å, energies meV, forces meV/Å).

``units`` (the one unit table), ``frames`` (:class:`Frames`), ``readers`` (rMD17 / sGDML ``.npz``,
extended XYZ, ASE db), ``published`` (the rMD17 split files), ``splits``, ``catalog`` (the ten
molecules), ``generate`` (GFN2-xTB Langevin MD: not rMD17's DFT surface), ``cache``, ``dataset``
(:class:`MD17`), ``stats`` and ``cli``. Names are imported on first use (PEP 562).
"""

from __future__ import annotations

from regconv.utils.lazy import lazy_exports

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "ENERGY_UNITS": "regconv.data.md17.units",
    "FORCE_UNITS": "regconv.data.md17.units",
    "UNITS": "regconv.data.md17.units",
    "EV_TO_MEV": "regconv.data.md17.units",
    "HARTREE_TO_MEV": "regconv.data.md17.units",
    "KCAL_PER_MOL_TO_MEV": "regconv.data.md17.units",
    "to_mev": "regconv.data.md17.units",
    "Frames": "regconv.data.md17.frames",
    "read_frames": "regconv.data.md17.readers",
    "read_npz": "regconv.data.md17.readers",
    "read_extxyz": "regconv.data.md17.readers",
    "read_ase_db": "regconv.data.md17.readers",
    "available_folds": "regconv.data.md17.published",
    "SCHEMES": "regconv.data.md17.splits",
    "ponita_split": "regconv.data.md17.splits",
    "random_split": "regconv.data.md17.splits",
    "published_split": "regconv.data.md17.splits",
    "split_indices": "regconv.data.md17.splits",
    "split_record": "regconv.data.md17.splits",
    "save_split": "regconv.data.md17.splits",
    "MOLECULES": "regconv.data.md17.catalog",
    "start_geometry": "regconv.data.md17.catalog",
    "generate_frames": "regconv.data.md17.generate",
    "arrays_sha256": "regconv.data.md17.generate",
    "cache_path": "regconv.data.md17.cache",
    "ensure_generated": "regconv.data.md17.cache",
    "load_generated": "regconv.data.md17.cache",
    "protocol": "regconv.data.md17.cache",
    "MD17": "regconv.data.md17.dataset",
    "summary": "regconv.data.md17.stats",
    "main": "regconv.data.md17.cli",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
