"""The QM9 ``Dataset``: PyG ``Data`` items sliced from the shared concatenated tensors."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from regconv.data.qm9.cache import load_qm9_tensors
from regconv.data.qm9.constants import QM9_TARGET_NAMES, QM9_TARGETS
from regconv.data.qm9.splits import (
    check_scheme,
    check_split,
    check_subset,
    ids_digest,
    qm9_split_record,
    split_positions,
)

__all__ = ["QM9", "target_columns"]


def target_columns(targets: str | Sequence[str] | None) -> list[int]:
    """Columns of ``y`` (``QM9_TARGETS`` order) of the named targets (default: all 12).

    Raises:
        ValueError: an unknown name (the message lists the valid ones) or an empty list.
    """
    if targets is None:
        return list(range(len(QM9_TARGETS)))
    if isinstance(targets, str):
        targets = [targets]
    cols = []
    for t in targets:
        if t not in QM9_TARGET_NAMES:
            raise ValueError(f"unknown QM9 target {t!r}; valid: {', '.join(QM9_TARGET_NAMES)}")
        cols.append(QM9_TARGET_NAMES.index(t))
    if not cols:
        raise ValueError(f"targets must name at least one of: {', '.join(QM9_TARGET_NAMES)}")
    return cols


class QM9(Dataset):
    """QM9 molecules as ``torch_geometric.data.Data(z [n] long, pos [n, 3] float32 (Å),
    y [1, T] float32, idx [1] long (QM9 id))``; batch with ``torch_geometric.loader.DataLoader``.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` (parts of ``scheme``) or ``"all"`` (id order).
        scheme: ``"dimenet"`` or ``"cormorant"`` (see :func:`qm9_split_indices`).
        subset: keep the first ``subset`` molecules of the split (deterministic).
        targets: target names to put in ``y`` (default all 12, in ``QM9_TARGETS`` order).
        source_dir, cache_dir: passed to :func:`load_qm9_tensors`.

    Items are sliced from the shared concatenated tensors (copies, so a saved item holds only its
    own atoms).
    """

    def __init__(
        self,
        split: str = "train",
        scheme: str = "dimenet",
        subset: int | None = None,
        targets: str | Sequence[str] | None = None,
        *,
        source_dir: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        self._cols = target_columns(targets)
        # validate the names before the (possibly slow) load
        check_split(split)
        check_scheme(scheme)
        check_subset(subset)
        self.split, self.scheme, self.subset = split, scheme, subset
        self.target_names = [QM9_TARGET_NAMES[c] for c in self._cols]
        self.target_units = [QM9_TARGETS[c][1] for c in self._cols]
        self.data = load_qm9_tensors(source_dir, cache_dir)
        self.positions = split_positions(split, scheme, subset, self.data.num_molecules)  # [len]
        self._ptr = self.data.ptr.numpy()  # [M + 1]
        all_cols = self._cols == list(range(len(QM9_TARGETS)))
        self._y = self.data.y if all_cols else self.data.y[:, self._cols].contiguous()  # [M, T]

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def __getitem__(self, i: int):
        from torch_geometric.data import Data

        if isinstance(i, torch.Tensor):
            i = i.item()
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"QM9 indices must be integers, got {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a QM9 split of {n} molecules")
        m = int(self.positions[i])
        a, b = int(self._ptr[m]), int(self._ptr[m + 1])
        return Data(
            z=self.data.z[a:b].long(),  # [n]
            pos=self.data.pos[a:b].clone(),  # [n, 3]
            y=self._y[m : m + 1].clone(),  # [1, T]
            idx=self.data.idx[m : m + 1].clone(),  # [1]
        )

    @property
    def ids(self) -> torch.Tensor:
        """QM9 ids of this split's molecules, in item order ([len] long)."""
        return self.data.idx[torch.from_numpy(self.positions)]

    @property
    def y(self) -> torch.Tensor:
        """Targets of this split's molecules, in item order ([len, T] float32)."""
        return self._y[torch.from_numpy(self.positions)]

    def target_mean_std(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-target mean and standard deviation over this split ([T] float64 each)."""
        y = self.y.double()
        return y.mean(0), y.std(0)

    def split_record(self, include_ids: bool = False) -> dict[str, Any]:
        """JSON-able record of this data set's split (see :func:`qm9_split_record`)."""
        if self.split == "all":
            return {
                "dataset": "qm9",
                "split": "all",
                "subset": self.subset,
                "num_molecules": self.data.num_molecules,
                "ids_sha256": ids_digest(self.ids.numpy()),
            }
        rec = qm9_split_record(self.scheme, self.subset, include_ids=include_ids, data=self.data)
        rec["split"] = self.split
        return rec

    def __repr__(self) -> str:
        return (
            f"QM9(split={self.split!r}, scheme={self.scheme!r}, subset={self.subset}, "
            f"molecules={len(self)}, targets={self.target_names})"
        )
