"""The deterministic QM9 train/val/test splits and the JSON-able records that pin them.

Splits
------
Deterministic permutations of the 130,831 positions in QM9-id order (:func:`qm9_split_indices`):

- ``dimenet``: ``numpy.random.RandomState(42).permutation(130831)``, cut into train 110,000,
  val 10,000, test 10,831;
- ``cormorant``: ``numpy.random.RandomState(0).permutation(130831)``, cut into train 100,000,
  val 17,748, test 13,083.

``subset=n`` keeps the first ``n`` of a split part (in permutation order). :func:`qm9_split_record`
gives a JSON-able record of a split (scheme, subset, sizes, a SHA-256 of the QM9 ids of each part
and optionally the ids themselves) for a training run to save, and :func:`check_split_record`
verifies one against the current data.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from regconv.data.qm9.cache import QM9Tensors, load_qm9_tensors
from regconv.data.qm9.constants import QM9_NUM_MOLECULES
from regconv.utils.checks import optional_int

__all__ = [
    "QM9_PARTS",
    "QM9_SCHEMES",
    "QM9_SPLITS",
    "check_scheme",
    "check_split",
    "check_split_record",
    "check_subset",
    "ids_digest",
    "qm9_split_indices",
    "qm9_split_record",
    "split_positions",
]

QM9_SPLITS = ("train", "val", "test", "all")
QM9_SCHEMES: dict[str, tuple[int, tuple[int, int, int]]] = {
    # scheme: (RandomState seed, (train, val, test) sizes)
    "dimenet": (42, (110_000, 10_000, 10_831)),
    "cormorant": (0, (100_000, 17_748, 13_083)),
}
QM9_PARTS = ("train", "val", "test")


def check_scheme(scheme: str) -> tuple[int, tuple[int, int, int]]:
    """``(seed, (train, val, test) sizes)`` of ``scheme``; ``ValueError`` listing the valid ones."""
    if scheme not in QM9_SCHEMES:
        raise ValueError(f"unknown QM9 split scheme {scheme!r}; valid: {', '.join(QM9_SCHEMES)}")
    return QM9_SCHEMES[scheme]


def check_split(split: str) -> str:
    """``split`` if it is one of ``QM9_SPLITS``, else ``ValueError`` listing them."""
    if split not in QM9_SPLITS:
        raise ValueError(f"unknown QM9 split {split!r}; valid: {', '.join(QM9_SPLITS)}")
    return split


def check_subset(subset: int | None) -> int | None:
    """None, or ``subset`` as an ``int`` >= 1 (NumPy integers too), else ``ValueError``."""
    return optional_int("subset", subset, 1)


def qm9_split_indices(scheme: str = "dimenet", subset: int | None = None) -> dict[str, np.ndarray]:
    """Positions (into the QM9-id-sorted molecules) of the train/val/test parts of ``scheme``.

    Returns ``{"train", "val", "test"}`` -> int64 arrays, in permutation order; disjoint and
    together ``0..130830``. With ``subset=n`` each part is cut to its first ``n`` positions (a
    part shorter than ``n`` is kept whole).

    Raises:
        ValueError: unknown scheme (the message lists the valid ones) or a bad subset.
    """
    seed, sizes = check_scheme(scheme)
    subset = check_subset(subset)
    perm = np.random.RandomState(seed).permutation(QM9_NUM_MOLECULES).astype(np.int64)  # [M]
    out: dict[str, np.ndarray] = {}
    start = 0
    for part, n in zip(QM9_PARTS, sizes, strict=True):
        out[part] = perm[start : start + n][: subset if subset is not None else n]
        start += n
    return out


def split_positions(split: str, scheme: str, subset: int | None, num_molecules: int) -> np.ndarray:
    """Positions (int64, item order) of ``split`` in a source of ``num_molecules`` molecules:
    ``"all"`` is id order; the parts of ``scheme`` need the full QM9."""
    check_split(split)
    check_scheme(scheme)
    subset = check_subset(subset)
    if split == "all":
        pos = np.arange(num_molecules, dtype=np.int64)
        return pos[:subset] if subset is not None else pos
    if num_molecules != QM9_NUM_MOLECULES:
        raise ValueError(
            f"the {scheme!r} split is defined for the {QM9_NUM_MOLECULES} QM9 molecules, but this "
            f"source has {num_molecules}; use split='all'"
        )
    return qm9_split_indices(scheme, subset)[split]


def ids_digest(ids: np.ndarray) -> str:
    """SHA-256 (hex) of QM9 ids as int64 little-endian bytes."""
    return hashlib.sha256(np.ascontiguousarray(ids, dtype="<i8").tobytes()).hexdigest()


def qm9_split_record(
    scheme: str = "dimenet",
    subset: int | None = None,
    *,
    include_ids: bool = False,
    data: QM9Tensors | None = None,
) -> dict[str, Any]:
    """A JSON-able record of a split, for a training run to save next to its checkpoints.

    ``{"dataset": "qm9", "scheme", "subset", "num_molecules", "sizes": {part: n},
    "first_ids": {part: [first 5 QM9 ids]}, "ids_sha256": {part: SHA-256 of the int64
    little-endian QM9 ids}}``, plus ``"ids": {part: [QM9 ids]}`` with ``include_ids=True``.
    ``data`` defaults to :func:`load_qm9_tensors` ``()``.
    """
    parts = qm9_split_indices(scheme, subset)
    data = data if data is not None else load_qm9_tensors()
    ids_all = data.idx.numpy()  # [M]
    if ids_all.shape[0] != QM9_NUM_MOLECULES:
        raise ValueError(f"split records need the full QM9 ({QM9_NUM_MOLECULES} molecules)")
    rec: dict[str, Any] = {
        "dataset": "qm9",
        "scheme": scheme,
        "subset": check_subset(subset),
        "num_molecules": int(ids_all.shape[0]),
        "sizes": {p: int(a.shape[0]) for p, a in parts.items()},
        "first_ids": {p: [int(i) for i in ids_all[a[:5]]] for p, a in parts.items()},
        "ids_sha256": {p: ids_digest(ids_all[a]) for p, a in parts.items()},
    }
    if include_ids:
        rec["ids"] = {p: [int(i) for i in ids_all[a]] for p, a in parts.items()}
    return rec


def check_split_record(record: dict[str, Any], data: QM9Tensors | None = None) -> None:
    """Raise ValueError if ``record`` (from :func:`qm9_split_record`, e.g. read back from JSON)
    does not describe the split the current data and code produce."""
    if not isinstance(record, dict) or record.get("dataset") != "qm9":
        raise ValueError("not a QM9 split record")
    now = qm9_split_record(
        record.get("scheme", ""), record.get("subset"), include_ids=False, data=data
    )
    for key in ("num_molecules", "sizes", "ids_sha256"):
        if record.get(key) != now[key]:
            raise ValueError(
                f"QM9 split record mismatch in {key!r}: saved {record.get(key)!r}, now {now[key]!r}"
            )
    if "ids" in record:
        parts = qm9_split_indices(now["scheme"], now["subset"])
        ids_all = (data if data is not None else load_qm9_tensors()).idx.numpy()
        for p, a in parts.items():
            if [int(i) for i in ids_all[a]] != list(record["ids"].get(p, [])):
                raise ValueError(f"QM9 split record mismatch in the ids of {p!r}")
