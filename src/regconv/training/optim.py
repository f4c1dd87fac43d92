"""Learning-rate schedule and the exponential moving average of the weights."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["ExponentialMovingAverage", "WarmupCosine"]


class WarmupCosine:
    """Multiplier of the base learning rate at optimizer step ``step`` (use with ``LambdaLR``,
    stepped once per optimizer step).

    Linear warm-up from ``1 / (warmup_steps + 1)`` to 1 over ``warmup_steps`` steps, then cosine
    decay from 1 to ``min_ratio`` at ``total_steps`` (constant ``min_ratio`` after). A callable
    object rather than a lambda so that ``LambdaLR.state_dict`` saves it.
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> None:
        if warmup_steps < 0 or total_steps < 1:
            raise ValueError(
                f"need warmup_steps >= 0 and total_steps >= 1, got {warmup_steps}, {total_steps}"
            )
        if not 0.0 <= min_ratio <= 1.0:
            raise ValueError(f"min_ratio must be in [0, 1], got {min_ratio}")
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.min_ratio = float(min_ratio)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / (self.warmup_steps + 1)
        span = max(1, self.total_steps - self.warmup_steps)
        t = min(1.0, (step - self.warmup_steps) / span)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


class ExponentialMovingAverage(nn.Module):
    """A copy of ``module`` whose parameters follow ``p_ema <- d p_ema + (1 - d) p`` after every
    optimizer step, with ``d = min(decay, (1 + n) / (10 + n))`` at update ``n`` (a short
    warm-up so that early averages are not dominated by the random initialisation).

    The copy and the update count are part of ``state_dict`` (so checkpoints carry them and a
    resumed run continues the same average). Buffers are copied, not averaged.
    """

    def __init__(self, module: nn.Module, decay: float = 0.999) -> None:
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.module = copy.deepcopy(module)
        self.module.requires_grad_(False)
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        n = int(self.num_updates)
        return min(self.decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        d = self.current_decay()
        for p_ema, p in zip(self.module.parameters(), module.parameters(), strict=True):
            p_ema.lerp_(p.detach(), 1.0 - d)
        for b_ema, b in zip(self.module.buffers(), module.buffers(), strict=True):
            b_ema.copy_(b)
        self.num_updates += 1

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
