"""QM9: 130,831 small organic molecules (H, C, N, O, F; up to 29 atoms) with 12 DFT targets.

``constants`` (targets, units, elements), ``source`` (the qm9pack CSVs and their parser),
``cache`` (the checksummed tensor cache, :func:`load_qm9_tensors`), ``splits`` and ``dataset``
(:class:`QM9`); :func:`molecule_from_arrays` lives in :mod:`regconv.data.molecules`.

The names below are imported on first use (PEP 562): importing
:mod:`regconv.data.qm9.constants` alone (as :mod:`regconv.training.spec` does) needs no NumPy or
torch, and :mod:`regconv.data.molecules` can use the constants while this package re-exports it.
"""

from __future__ import annotations

from regconv.utils.lazy import lazy_exports

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "ATOM_REFS_HA": "regconv.data.qm9.constants",
    "ELEMENTS": "regconv.data.qm9.constants",
    "EXTENSIVE_QM9_TARGETS": "regconv.data.qm9.constants",
    "HARTREE_TO_MEV": "regconv.data.qm9.constants",
    "QM9_MAX_ID": "regconv.data.qm9.constants",
    "QM9_NUM_GAPS": "regconv.data.qm9.constants",
    "QM9_NUM_MOLECULES": "regconv.data.qm9.constants",
    "QM9_TARGETS": "regconv.data.qm9.constants",
    "QM9_TARGET_SYMBOLS": "regconv.data.qm9.constants",
    "QM9_UNITS": "regconv.data.qm9.constants",
    "parse_qm9_csv": "regconv.data.qm9.source",
    "qm9pack_data_dir": "regconv.data.qm9.source",
    "QM9Tensors": "regconv.data.qm9.cache",
    "load_qm9_tensors": "regconv.data.qm9.cache",
    "source_fingerprint": "regconv.data.qm9.cache",
    "QM9_SCHEMES": "regconv.data.qm9.splits",
    "QM9_SPLITS": "regconv.data.qm9.splits",
    "check_split_record": "regconv.data.qm9.splits",
    "qm9_split_indices": "regconv.data.qm9.splits",
    "qm9_split_record": "regconv.data.qm9.splits",
    "QM9": "regconv.data.qm9.dataset",
    "molecule_from_arrays": "regconv.data.molecules",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
