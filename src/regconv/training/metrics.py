"""Epoch-level error accumulators (exact under DDP: sums, synchronised on ``compute``)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

__all__ = ["ErrorSums", "PairCollector"]


class ErrorSums(Metric):
    """Weighted sums of absolute and squared errors per target and of the (normalised) loss.

    ``update(err [I, T, C], weight [I], loss [I])``: ``I`` items (graphs or nodes), ``T``
    targets, ``C`` components per target (1 for scalars, 3 for vectors). Items of weight 0
    (padding repeats) do not count. ``compute()`` gives ``mae [T]``, ``mse [T]`` (averaged over
    items and components) and ``loss`` (weighted mean of ``loss``).
    """

    full_state_update = False

    def __init__(self, num_targets: int) -> None:
        super().__init__()
        z = torch.zeros(num_targets, dtype=torch.float64)
        self.add_state("abs_sum", default=z.clone(), dist_reduce_fx="sum")
        self.add_state("sq_sum", default=z.clone(), dist_reduce_fx="sum")
        self.add_state("count", default=z.clone(), dist_reduce_fx="sum")
        self.add_state(
            "loss_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum"
        )
        self.add_state(
            "weight_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum"
        )

    def update(
        self, err: Tensor, weight: Tensor, loss: Tensor | None, target: int | None = None
    ) -> None:
        """Add ``err [I, T, C]`` of every target, or with ``target`` ``err [I, 1, C]`` of that
        target alone (targets of different items: graph energies, atom forces); ``loss [I]``
        (None: no loss for these items)."""
        err = err.detach().double()
        w = weight.detach().double()
        part = slice(None) if target is None else slice(target, target + 1)
        self.abs_sum[part] += (err.abs().sum(-1) * w[:, None]).sum(0)
        self.sq_sum[part] += (err.square().sum(-1) * w[:, None]).sum(0)
        self.count[part] += w.sum() * err.shape[-1]
        if loss is not None:
            self.loss_sum += (loss.detach().double() * w).sum()
            self.weight_sum += w.sum()

    def compute(self) -> dict[str, Tensor]:
        count = self.count.clamp_min(1.0)
        return {
            "mae": self.abs_sum / count,
            "mse": self.sq_sum / count,
            "loss": self.loss_sum / self.weight_sum.clamp_min(1.0),
            "count": self.weight_sum,
        }


class PairCollector(Metric):
    """Collects ``(pred, true)`` rows of items with non-zero weight (for parity plots);
    gathered over processes on ``compute``."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("pred", default=[], dist_reduce_fx="cat")
        self.add_state("true", default=[], dist_reduce_fx="cat")

    def update(self, pred: Tensor, true: Tensor, weight: Tensor) -> None:
        keep = weight > 0
        self.pred.append(pred.detach()[keep].float().flatten(1))
        self.true.append(true.detach()[keep].float().flatten(1))

    def compute(self) -> tuple[Tensor, Tensor]:
        # a list of tensors before synchronisation, one tensor after it
        if isinstance(self.pred, list) and not self.pred:
            return torch.zeros(0, 0), torch.zeros(0, 0)
        return dim_zero_cat(self.pred), dim_zero_cat(self.true)
