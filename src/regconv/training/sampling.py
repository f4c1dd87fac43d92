"""Deterministic, resumable, DDP-consistent data order.

:class:`EpochSampler` orders the items of an epoch by a permutation that depends only on
``(seed, epoch)``; with ``W`` processes, rank ``r`` takes positions ``r, r + W, r + 2W, ...`` of
that permutation. With a per-process batch of ``b`` items, the ``k``-th batches of all ranks
together are exactly positions ``[k W b, (k + 1) W b)`` of the permutation: the same global
batches that one process with batch ``W b`` sees. (Lightning leaves a ``DistributedSampler``
subclass alone instead of wrapping it.)

Resuming mid-epoch: :class:`ResumableLoader` counts the batches it has handed out in the current
epoch and is *stateful* in Lightning's sense (``state_dict`` / ``load_state_dict``), so a
checkpoint records ``(epoch, batches consumed)``; on restore the sampler skips the consumed
batches of that epoch and the run continues with exactly the batches an uninterrupted run would
have seen. ``len()`` always reports the full epoch, as Lightning expects of resumable loaders.

Evaluation (``pad=True``): every rank gets the same number of items (DDP runs validation through
the DDP wrapper, whose forward is collective, so ranks must run the same number of batches); the
shards are padded with repeats that the loader marks with ``weight = 0`` so that metrics count
every item exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, DistributedSampler
from torch_geometric.loader import DataLoader

__all__ = ["EpochSampler", "ResumableLoader", "WeightedDataset", "restore_loader_position"]


class EpochSampler(DistributedSampler):
    """Order of the items of one process in one epoch (see the module docstring).

    Args:
        num_items: size of the data set.
        shuffle: permute (by ``seed + epoch``) or keep the natural order.
        seed: the permutation seed.
        num_replicas, rank: the process group (default 1 and 0).
        drop_last: drop the tail so that every rank gets the same whole number of items
            (training); otherwise see ``pad``.
        pad: pad the shards to equal length with items of index ``>= num_items`` (meaning
            "repeat of item ``i - num_items``, weight 0"; see :class:`WeightedDataset`).
    """

    def __init__(
        self,
        num_items: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        num_replicas: int = 1,
        rank: int = 0,
        drop_last: bool = False,
        pad: bool = False,
    ) -> None:
        # DistributedSampler.__init__ needs an initialised process group; set the fields here.
        if num_replicas < 1 or not 0 <= rank < num_replicas:
            raise ValueError(f"invalid rank {rank} for {num_replicas} replicas")
        self.dataset = None
        self.num_items = int(num_items)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.drop_last = drop_last
        self.pad = pad
        self.epoch = 0
        self._skip_epoch: int | None = None
        self._skip_items = 0
        if drop_last:
            self.num_samples = self.num_items // self.num_replicas
        elif pad:
            self.num_samples = math.ceil(self.num_items / self.num_replicas)
        else:
            self.num_samples = len(range(self.rank, self.num_items, self.num_replicas))
        self.total_size = self.num_samples * self.num_replicas

    def global_order(self, epoch: int) -> list[int]:
        """The permutation of ``range(num_items)`` used in ``epoch``."""
        if not self.shuffle:
            return list(range(self.num_items))
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + int(epoch))
        return torch.randperm(self.num_items, generator=g).tolist()

    def local_order(self, epoch: int) -> list[int]:
        """The items of this rank in ``epoch``, in order (including the skipped ones)."""
        order = self.global_order(epoch)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.pad and self.total_size > len(order):
            extra = self.total_size - len(order)
            order = order + [self.num_items + order[i % len(order)] for i in range(extra)]
        return order[self.rank :: self.num_replicas]

    def skip(self, epoch: int, items: int) -> None:
        """Skip the first ``items`` items of this rank the next time ``epoch`` is iterated."""
        self._skip_epoch, self._skip_items = int(epoch), int(items)

    @property
    def pending_skip(self) -> int:
        """Items that the next iteration skips (0 unless resuming in the current epoch)."""
        return self._skip_items if self._skip_epoch == self.epoch else 0

    def __iter__(self) -> Iterator[int]:
        order = self.local_order(self.epoch)
        start = self.pending_skip
        self._skip_epoch, self._skip_items = None, 0
        return iter(order[start:])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)


class WeightedDataset(Dataset):
    """Adds ``weight [1]`` (1.0) to every item; index ``len + i`` is item ``i`` with weight 0
    (a padding repeat made by :class:`EpochSampler` with ``pad=True``)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        n = len(self.dataset)
        weight = 1.0
        if i >= n:
            i, weight = i - n, 0.0
        data = self.dataset[i]
        data = data.clone() if hasattr(data, "clone") else data
        data.weight = torch.tensor([weight], dtype=torch.float32)
        return data


class ResumableLoader(DataLoader):
    """A PyG ``DataLoader`` over an :class:`EpochSampler` whose position in the epoch is saved
    in checkpoints (``state_dict``) and restored (``load_state_dict``).

    ``iter()`` is lazy: the sampler is first read at the first ``next()``, after Lightning has
    called ``set_epoch``, so the order is right also with worker processes.
    """

    def __init__(self, dataset: Dataset, batch_size: int, sampler: EpochSampler, **kwargs: Any):
        super().__init__(dataset, batch_size=batch_size, sampler=sampler, shuffle=False, **kwargs)
        self._epoch = 0
        self._consumed = 0

    def __iter__(self):
        return self._batches()

    def _batches(self):
        sampler: EpochSampler = self.sampler
        self._epoch = sampler.epoch
        skipped = sampler.pending_skip
        if skipped % self.batch_size:
            raise RuntimeError("a resumed epoch must skip whole batches")
        self._consumed = skipped // self.batch_size
        for batch in super().__iter__():
            self._consumed += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "batches"}``: batches of ``epoch`` handed out so far (Lightning does not
        prefetch from a loader of known length, so these are the batches trained on)."""
        return {"epoch": int(self._epoch), "batches": int(self._consumed)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        epoch, batches = int(state["epoch"]), int(state["batches"])
        self.sampler.set_epoch(epoch)
        self.sampler.skip(epoch, batches * self.batch_size)
        self._epoch, self._consumed = epoch, batches


def restore_loader_position(trainer) -> None:
    """Restore the training loader's position in its epoch if Lightning has not (a safety net
    for mid-epoch resume, called when training starts: if something set up the train loader
    before the checkpoint was restored, Lightning skips restoring its position)."""
    fit_loop = trainer.fit_loop
    pending = getattr(fit_loop, "_combined_loader_states_to_load", None)
    if pending and fit_loop._combined_loader is not None:
        fit_loop._combined_loader._load_state_dicts(pending)
        fit_loop._combined_loader_states_to_load = []
