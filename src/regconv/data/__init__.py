"""Data sets (QM9, charged N-body) as PyG ``Data`` objects. No model code lives here.

Names are imported lazily (PEP 562), so ``import regconv.data`` stays cheap; ``regconv.data.QM9``
imports :mod:`regconv.data.qm9` (torch, numpy) on first use. Molecule files and user arrays are
read and validated by :mod:`regconv.data.molecules`.
"""

from __future__ import annotations

from regconv.utils.lazy import lazy_exports

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "QM9": "regconv.data.qm9",
    "QM9_TARGETS": "regconv.data.qm9",
    "QM9_TARGET_SYMBOLS": "regconv.data.qm9",
    "QM9_SCHEMES": "regconv.data.qm9",
    "QM9_SPLITS": "regconv.data.qm9",
    "QM9Tensors": "regconv.data.qm9",
    "HARTREE_TO_MEV": "regconv.data.qm9",
    "check_split_record": "regconv.data.qm9",
    "load_qm9_tensors": "regconv.data.qm9",
    "qm9_split_indices": "regconv.data.qm9",
    "qm9_split_record": "regconv.data.qm9",
    "Molecule": "regconv.data.molecules",
    "MoleculeError": "regconv.data.molecules",
    "molecule_from_arrays": "regconv.data.molecules",
    "read_molecules": "regconv.data.molecules",
    "NBody": "regconv.data.nbody",
    "simulate": "regconv.data.nbody",
    "simulate_batch": "regconv.data.nbody",
    "generate_split": "regconv.data.nbody",
    "sample_initial_conditions": "regconv.data.nbody",
    "sample_published_initial_conditions": "regconv.data.nbody",
    "MD17": "regconv.data.md17",
    "read_frames": "regconv.data.md17",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
