"""Data sets (QM9, charged N-body) as PyG ``Data`` objects. No model code lives here.

Names are imported lazily (PEP 562), so ``import regconv.data`` stays cheap; ``regconv.data.QM9``
imports :mod:`regconv.data.qm9` (torch, numpy) on first use. Molecule files and user arrays are
read and validated by :mod:`regconv.data.molecules`.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule that defines it
_LAZY: dict[str, str] = {
    "QM9": "qm9",
    "QM9_TARGETS": "qm9",
    "QM9_TARGET_SYMBOLS": "qm9",
    "QM9_SCHEMES": "qm9",
    "QM9_SPLITS": "qm9",
    "QM9Tensors": "qm9",
    "HARTREE_TO_MEV": "qm9",
    "check_split_record": "qm9",
    "load_qm9_tensors": "qm9",
    "qm9_split_indices": "qm9",
    "qm9_split_record": "qm9",
    "Molecule": "molecules",
    "MoleculeError": "molecules",
    "molecule_from_arrays": "molecules",
    "read_molecules": "molecules",
    "NBody": "nbody",
    "simulate": "nbody",
    "simulate_batch": "nbody",
    "generate_split": "nbody",
    "sample_initial_conditions": "nbody",
    "sample_published_initial_conditions": "nbody",
    "MD17": "md17",
    "read_frames": "md17",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
