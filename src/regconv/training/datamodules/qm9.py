"""QM9 (:class:`regconv.data.QM9`): graph-level regression of one or more of its 12 targets."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from regconv.training.datamodules.base import GraphDataModule
from regconv.training.spec import qm9_task
from regconv.utils.checks import optional_int

__all__ = ["QM9DataModule"]


class QM9DataModule(GraphDataModule):
    """QM9 (:class:`regconv.data.QM9`) for graph-level regression of one or more targets.

    Args:
        target: a target name or a list of them (``mu alpha homo lumo gap r2 zpve u0 u h g
            cv``); ``y`` holds them in this order, in the units of ``QM9_TARGETS``.
        scheme: the split (``dimenet``: 110,000 / 10,000 / 10,831; ``cormorant``: 100,000 /
            17,748 / 13,083).
        train_subset, val_subset, test_subset: keep the first ``n`` molecules of a split part
            (deterministic; ``None``: all).
        record_ids: also store the QM9 ids of every split part in ``results.json`` (otherwise
            sizes, first ids and a SHA-256 of the ids).
        batch_size, eval_batch_size, num_workers, seed, drop_last: see
            :class:`GraphDataModule`.
    """

    def __init__(
        self,
        *,
        target: str | list[str] = "homo",
        scheme: Literal["dimenet", "cormorant"] = "dimenet",
        train_subset: int | None = None,
        val_subset: int | None = None,
        test_subset: int | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
        record_ids: bool = False,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            seed=seed,
            drop_last=drop_last,
        )
        self.targets = [target] if isinstance(target, str) else list(target)
        self._task = qm9_task(self.targets)  # validates the names
        if scheme not in ("dimenet", "cormorant"):
            raise ValueError(f"unknown QM9 split scheme {scheme!r}; valid: dimenet, cormorant")
        for name, value in (
            ("train_subset", train_subset),
            ("val_subset", val_subset),
            ("test_subset", test_subset),
        ):
            optional_int(name, value)
        self.scheme = scheme
        self.subsets = {"train": train_subset, "val": val_subset, "test": test_subset}
        self.record_ids = record_ids

    @property
    def task_spec(self) -> dict[str, Any]:
        return self._task

    def prepare_data(self) -> None:
        from regconv.data import load_qm9_tensors

        load_qm9_tensors()  # builds the cache once (rank 0) before setup() on every rank

    def build_dataset(self, split: str) -> Dataset:
        from regconv.data import QM9

        return QM9(split, scheme=self.scheme, subset=self.subsets[split], targets=self.targets)

    def training_targets(self) -> dict[str, torch.Tensor]:
        ds = self.dataset("train")
        counts = ds.data.ptr[1:] - ds.data.ptr[:-1]
        num_atoms = counts[torch.from_numpy(np.asarray(ds.positions))].long()
        return {"y": ds.y.double(), "num_atoms": num_atoms}

    def split_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "dataset": "qm9",
            "scheme": self.scheme,
            "targets": list(self.targets),
            "subsets": dict(self.subsets),
            "sizes": {},
            "first_ids": {},
            "ids_sha256": {},
        }
        for split in ("train", "val", "test"):
            ids = self.dataset(split).ids.numpy().astype("<i8")
            info["sizes"][split] = int(ids.shape[0])
            info["first_ids"][split] = [int(i) for i in ids[:5]]
            info["ids_sha256"][split] = hashlib.sha256(ids.tobytes()).hexdigest()
            if self.record_ids:
                info.setdefault("ids", {})[split] = [int(i) for i in ids]
        return info
