"""Lightning data modules wrapping :mod:`regconv.data`.

All of them share :class:`GraphDataModule`: deterministic, resumable and DDP-consistent loaders
(:mod:`regconv.training.sampling`), a task spec for the model (:mod:`regconv.training.spec`), the
training targets for standardisation and a record of the split for ``results.json``.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Literal

import lightning.pytorch as L
import numpy as np
import torch
from torch.utils.data import Dataset, Subset
from torch_geometric.loader import DataLoader

from regconv.training.sampling import EpochSampler, ResumableLoader, WeightedDataset
from regconv.training.spec import (
    TaskSpec,
    energy_forces_task,
    nbody_task,
    qm9_task,
    reference_positions,
)
from regconv.utils.checks import check_int, optional_int

__all__ = ["DatasetDataModule", "GraphDataModule", "NBodyDataModule", "QM9DataModule"]


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
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
    ) -> None:
        super().__init__()
        check_int("batch_size", batch_size)
        optional_int("eval_batch_size", eval_batch_size)
        if num_workers < 0:
            raise ValueError("num_workers must be >= 0")
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
            if split not in self.datasets:
                self.datasets[split] = self.build_dataset(split)

    def dataset(self, split: str) -> Dataset:
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
        train: Dataset | None = None,
        val: Dataset | None = None,
        test: Dataset | None = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, seed, drop_last)
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
        super().__init__(batch_size, eval_batch_size, num_workers, seed, drop_last)
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


class NBodyDataModule(GraphDataModule):
    """The charged N-body data set (:class:`regconv.data.nbody.NBody`): from positions,
    velocities and charges at ``frame_in``, predict the positions at ``frame_out``.

    Args:
        num_train: training trajectories (the first ``num_train`` of the 10,000).
        frame_in, frame_out: input and target frames (0..48).
        val_subset, test_subset: keep the first ``n`` trajectories of val / test.
        root: directory of the generated splits (default ``cache_dir()/nbody``).
        source: ``'regconv'`` (our seeds) or ``'published'`` (the initial states of the
            published data set: :func:`regconv.data.nbody.sample_published_initial_conditions`).
        galilean: velocities relative to the centre-of-mass velocity and the reference
            prediction ``pos + T v_cm`` (exact Galilean invariance; see
            :class:`regconv.data.nbody.NBody`).
        batch_size, eval_batch_size, num_workers, seed, drop_last: see
            :class:`GraphDataModule`.
    """

    def __init__(
        self,
        num_train: int = 3000,
        frame_in: int = 30,
        frame_out: int = 40,
        val_subset: int | None = None,
        test_subset: int | None = None,
        root: str | None = None,
        galilean: bool = False,
        source: str = "regconv",
        batch_size: int = 100,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, seed, drop_last)
        check_int("num_train", num_train)
        optional_int("val_subset", val_subset)
        optional_int("test_subset", test_subset)
        self.num_train = num_train
        self.frame_in, self.frame_out = frame_in, frame_out
        self.subsets = {"train": num_train, "val": val_subset, "test": test_subset}
        from regconv.data.nbody import check_source

        check_source(source)
        self.root = root
        self.galilean = galilean
        self.source = source

    @property
    def task_spec(self) -> dict[str, Any]:
        return nbody_task()

    def prepare_data(self) -> None:
        from regconv.data.nbody import ensure_split

        for split in ("train", "val", "test"):
            ensure_split(split, self.root, source=self.source)

    def build_dataset(self, split: str) -> Dataset:
        from regconv.data.nbody import NBody

        ds = NBody(
            split,
            num_train=self.num_train,
            frame_in=self.frame_in,
            frame_out=self.frame_out,
            root=self.root,
            galilean=self.galilean,
            source=self.source,
        )
        n = self.subsets[split]
        if split != "train" and n is not None and n < len(ds):
            ds = Subset(ds, range(n))
        return ds

    def split_info(self) -> dict[str, Any]:
        from regconv.data.nbody import PUBLISHED_SEED, SPLIT_SEEDS

        seeds = dict(SPLIT_SEEDS) if self.source == "regconv" else {"stream": PUBLISHED_SEED}
        return {
            "dataset": "nbody",
            "frame_in": self.frame_in,
            "frame_out": self.frame_out,
            "galilean": self.galilean,
            "subsets": dict(self.subsets),
            "sizes": {s: len(self.dataset(s)) for s in ("train", "val", "test")},
            "source": self.source,
            "generator_seeds": seeds,
        }


class MD17DataModule(GraphDataModule):
    """Energy + force frames (:class:`regconv.data.md17.MD17`): a user's rMD17 / sGDML ``.npz``,
    extended XYZ or ASE database (``path``), or a generated GFN2-xTB set (``molecule``).

    Args:
        path: the user's file; molecule: a generated molecule (e.g. ``"aspirin"``); exactly one.
        scheme: ``"ponita"`` (of the first 100,000 frames every 100th, every 20th of those to
            validation: 950 / 50 / the rest), ``"random"`` (950 / 50 / rest, seeded) or
            ``"rmd17"`` (the published split files); split_seed: the ``random`` scheme's seed.
        energy_key, forces_key: key names in extended XYZ / ASE files.
        frames: size of the generated set (``molecule``; None: the generator's default, 10,000
            frames of every 10th of 100,000 MD steps); generated and cached on first use.
        test_subset: keep the first ``n`` test frames (None: all).
        batch_size, eval_batch_size, num_workers, seed, drop_last: see
            :class:`GraphDataModule`.
    """

    def __init__(
        self,
        path: str | None = None,
        molecule: str | None = None,
        scheme: str = "ponita",
        split_seed: int = 0,
        energy_key: str = "energy",
        forces_key: str = "forces",
        frames: int | None = None,
        test_subset: int | None = None,
        batch_size: int = 5,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
    ) -> None:
        super().__init__(batch_size, eval_batch_size, num_workers, seed, drop_last)
        if (path is None) == (molecule is None):
            raise ValueError("MD17DataModule needs exactly one of path= or molecule=")
        optional_int("test_subset", test_subset)
        self.path, self.molecule, self.scheme, self.split_seed = path, molecule, scheme, split_seed
        self.keys = {"energy_key": energy_key, "forces_key": forces_key}
        if optional_int("frames", frames) is not None:
            if molecule is None:
                raise ValueError("frames sets the size of a generated set: it needs molecule=")
            self.keys["frames"] = frames
        self.test_subset = test_subset

    @property
    def task_spec(self) -> dict[str, Any]:
        return energy_forces_task(self.molecule or "md17")

    def build_dataset(self, split: str) -> Dataset:
        from regconv.data.md17 import MD17

        ds = MD17(self.path, self.molecule, split, self.scheme, self.split_seed, **self.keys)
        if split == "test" and self.test_subset is not None and self.test_subset < len(ds):
            ds = Subset(ds, range(self.test_subset))
        return ds

    def split_info(self) -> dict[str, Any]:
        records = {}
        for split in ("train", "val", "test"):
            ds = self.dataset(split)
            base = ds.dataset if isinstance(ds, Subset) else ds
            records[split] = {"size": len(ds), "record": base.split_record}
        return {"dataset": "md17", "path": self.path, "molecule": self.molecule, "splits": records}
