"""The optimizer and learning-rate schedule of :class:`regconv.training.RegressionTask`: Adam or
AdamW with a ``LambdaLR`` stepped per optimizer step, and the schedule's length from the trainer.

The length is ``total_steps`` when given, else the trainer's ``max_epochs`` times the optimizer
steps per epoch (the training loader's batches, capped by ``limit_train_batches``, over
``accumulate_grad_batches``), capped by ``max_steps``; else ``max_steps``; else Lightning's
estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

__all__ = ["optimizer_config", "schedule_length"]


def schedule_length(trainer, total_steps: int | None) -> int:
    """The number of optimizer steps of the schedule (see the module docstring); ``ValueError``
    when nothing bounds the run."""
    if total_steps is not None:
        return int(total_steps)
    max_steps = trainer.max_steps if trainer.max_steps not in (None, -1) else None
    max_epochs = trainer.max_epochs if trainer.max_epochs not in (None, -1) else None
    dm = getattr(trainer, "datamodule", None)
    if max_epochs is not None and dm is not None and hasattr(dm, "train_dataloader"):
        # A separate loader instance: asking the trainer (estimated_stepping_batches) would
        # set up its train loader before a checkpoint is restored, and Lightning would then
        # never restore the loader's position (mid-epoch resume).
        batches = len(dm.train_dataloader())
        limit = trainer.limit_train_batches
        if isinstance(limit, int):
            batches = min(batches, limit)
        elif limit is not None:
            batches = int(batches * float(limit))
        per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        total = per_epoch * max(1, max_epochs)
        return max(1, min(total, max_steps) if max_steps is not None else total)
    if max_steps is not None:
        return int(max_steps)
    est = trainer.estimated_stepping_batches
    if not math.isfinite(est):
        raise ValueError("set trainer.max_epochs, trainer.max_steps or model.total_steps")
    return max(1, int(est))


def optimizer_config(
    parameters: Iterable[torch.nn.Parameter],
    optimizer: str,
    lr: float,
    weight_decay: float,
    schedule: Callable[[int], float],
) -> dict:
    """Lightning's ``configure_optimizers`` answer: ``optimizer`` (``"adam"``: L2 weight decay,
    ``"adamw"``: decoupled) over ``parameters`` and the multiplier ``schedule`` of ``lr`` per
    optimizer step."""
    cls = torch.optim.AdamW if optimizer == "adamw" else torch.optim.Adam
    opt = cls(parameters, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
