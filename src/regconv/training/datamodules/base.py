"""The base of every data module, :class:`GraphDataModule`, and :class:`DatasetDataModule` over
given data sets.

:class:`GraphDataModule` gives deterministic, resumable and DDP-consistent loaders
(:mod:`regconv.training.sampling`), the task spec for the model (:mod:`regconv.training.spec`),
the training targets for standardisation and a record of the split for ``results.json``; a data
set's module (one file each in this package) implements :meth:`~GraphDataModule.build_dataset`
and :attr:`~GraphDataModule.task_spec`.
"""

from __future__ import annotations

import os
from typing import Any

import lightning.pytorch as L
import torch
from torch.utils.data import Dataset
from torch_geometric.loader import DataLoader

from regconv.training.sampling import EpochSampler, ResumableLoader, WeightedDataset
from regconv.training.spec import TaskSpec, reference_positions
from regconv.utils.checks import check_int, optional_int

__all__ = ["DatasetDataModule", "GraphDataModule"]


class GraphDataModule(L.LightningDataModule):
    """Base class: subclasses implement :meth:`build_dataset` and :attr:`task_spec`.

    Args:
        batch_size: graphs per batch *per process* (the global batch is ``batch_size`` times
            the number of processes).
        eval_batch_size: batch size of validation and test (default ``batch_size``).
        num_workers: DataLoader worker processes.
        seed: seed of the training order (per epoch ``seed + epoch``); default: the run's seed
            (``seed_everything``, via ``PL_GLOBAL_SEED``), else 0.
        drop_last: drop the last incomplete training batch.
    """

    def __init__(
        self,
        *,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
    ) -> None:
        super().__init__()
        check_int("batch_size", batch_size)
        optional_int("eval_batch_size", eval_batch_size)
        check_int("num_workers", num_workers, minimum=0)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.drop_last = drop_last
        self.datasets: dict[str, Dataset] = {}

    # -- to implement -------------------------------------------------------------------------
    @property
    def task_spec(self) -> dict[str, Any]:
        """The task spec dict (see :mod:`regconv.training.spec`)."""
        raise NotImplementedError

    def build_dataset(self, split: str) -> Dataset:
        """The data set of ``split`` (``"train"``, ``"val"`` or ``"test"``)."""
        raise NotImplementedError

    def split_info(self) -> dict[str, Any]:
        """A JSON-able record of the data and its split (for ``results.json``)."""
        return {"sizes": {k: len(v) for k, v in self.datasets.items()}}

    # -- Lightning hooks ----------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        wanted = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": ("test",),
        }.get(stage or "", ("train", "val", "test"))
        for split in wanted:
            self.dataset(split)

    def dataset(self, split: str) -> Dataset:
        """The data set of ``split``, built on first use and kept."""
        if split not in self.datasets:
            self.datasets[split] = self.build_dataset(split)
        return self.datasets[split]

    @property
    def train_dataset(self) -> Dataset:
        return self.dataset("train")

    def _world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 1, 0
        return int(trainer.world_size), int(trainer.global_rank)

    def _seed(self) -> int:
        if self.seed is not None:
            return int(self.seed)
        return int(os.environ.get("PL_GLOBAL_SEED", 0))

    def _current_epoch(self) -> int:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0
        return int(trainer.fit_loop.epoch_progress.current.processed)

    def train_dataloader(self) -> ResumableLoader:
        ds = self.dataset("train")
        world, rank = self._world()
        sampler = EpochSampler(
            len(ds),
            shuffle=True,
            seed=self._seed(),
            num_replicas=world,
            rank=rank,
            drop_last=self.drop_last,
        )
        sampler.set_epoch(self._current_epoch())
        if self.drop_last and len(sampler) < self.batch_size:
            raise ValueError(
                f"the training set ({len(ds)} items over {world} process(es)) is smaller than one "
                f"batch ({self.batch_size}); lower batch_size or set drop_last: false"
            )
        return ResumableLoader(
            ds,
            batch_size=self.batch_size,
            sampler=sampler,
            drop_last=self.drop_last,
            num_workers=self.num_workers,
            persistent_workers=False,
        )

    def _eval_loader(self, split: str) -> DataLoader:
        ds = self.dataset(split)
        world, rank = self._world()
        sampler = EpochSampler(len(ds), shuffle=False, num_replicas=world, rank=rank, pad=True)
        return DataLoader(
            WeightedDataset(ds),
            batch_size=self.eval_batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader("test")

    # -- standardisation ----------------------------------------------------------------------
    def training_targets(self) -> dict[str, torch.Tensor]:
        """Targets of the training split, for standardisation: ``{"y" [M, T] float64,
        "num_atoms" [M] long}`` (graph tasks), ``{"displacement" [K, 3] float64}`` (node
        vector tasks: ``y - base`` of every node, ``base`` = ``pos`` unless the items carry one)
        or ``{"energy" [M], "num_atoms" [M], "forces" [K, 3]}`` (energy + force tasks). This
        default reads every item once."""
        spec = TaskSpec.from_dict(self.task_spec)
        ds = self.dataset("train")
        if spec.kind == "energy_forces":
            items = [ds[i] for i in range(len(ds))]
            return {
                "energy": torch.cat([d.energy.reshape(-1).double() for d in items]),
                "num_atoms": torch.tensor([int(d.num_nodes) for d in items], dtype=torch.long),
                "forces": torch.cat([d.forces.double() for d in items]),
            }
        if spec.kind == "graph":
            ys, ns = [], []
            for i in range(len(ds)):
                d = ds[i]
                ys.append(d.y.reshape(1, -1).double())
                ns.append(int(d.num_nodes))
            return {"y": torch.cat(ys), "num_atoms": torch.tensor(ns, dtype=torch.long)}
        disp = [(ds[i].y - reference_positions(ds[i])).double() for i in range(len(ds))]
        return {"displacement": torch.cat(disp)}


class DatasetDataModule(GraphDataModule):
    """A data module over given data sets (for use from Python, e.g. with your own data).

    Args:
        task: the task spec dict (see :mod:`regconv.training.spec`).
        train, val, test: data sets of PyG ``Data`` items following the model contract.
    """

    def __init__(
        self,
        task: dict[str, Any],
        *,
        train: Dataset | None = None,
        val: Dataset | None = None,
        test: Dataset | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            seed=seed,
            drop_last=drop_last,
        )
        self._task = TaskSpec.from_dict(task).to_dict()
        self._given = {"train": train, "val": val, "test": test}

    @property
    def task_spec(self) -> dict[str, Any]:
        return self._task

    def build_dataset(self, split: str) -> Dataset:
        ds = self._given.get(split)
        if ds is None:
            raise ValueError(f"no {split} data set was given")
        return ds
