"""The charged N-body problem (:class:`regconv.data.nbody.NBody`): node-level vector regression
of future positions."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset, Subset

from regconv.training.datamodules.base import GraphDataModule
from regconv.training.spec import nbody_task
from regconv.utils.checks import check_int, optional_int

__all__ = ["NBodyDataModule"]


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
        *,
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
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            seed=seed,
            drop_last=drop_last,
        )
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
