"""Learning-rate schedules (warm-up + cosine, in steps or in time) and the exponential moving
average of the weights."""

from __future__ import annotations

import copy
import math
import time

import torch
from torch import nn

__all__ = ["ExponentialMovingAverage", "TimeWarmupCosine", "WarmupCosine", "warmup_cosine"]


def warmup_cosine(
    x: float, warmup: float, span: float, min_ratio: float = 0.0, offset: float = 1.0
) -> float:
    """The warm-up + cosine multiplier at progress ``x`` (steps, or a fraction of a budget).

    ``x < warmup``: the line ``(x + offset) / (warmup + offset)`` (from
    ``offset / (warmup + offset)`` at ``x = 0`` towards 1 at ``x = warmup``; ``offset = inf``:
    constant 1). Then cosine from 1 to ``min_ratio`` over ``span`` (constant ``min_ratio``
    after). :class:`WarmupCosine` and :class:`TimeWarmupCosine` are both this curve.
    """
    if x < warmup:
        return 1.0 if math.isinf(offset) else (x + offset) / (warmup + offset)
    t = min(1.0, (x - warmup) / span)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))


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
        span = max(1, self.total_steps - self.warmup_steps)
        return warmup_cosine(step, self.warmup_steps, span, self.min_ratio, offset=1.0)


class TimeWarmupCosine:
    """Learning-rate multiplier as a function of the elapsed fraction ``f`` of a time budget (use
    with ``LambdaLR``; the step argument is ignored, the clock is read at every call).

    ``f < warmup``: linear from ``start_ratio`` to 1; then cosine from 1 to ``min_ratio`` at
    ``f = 1`` (constant after). Before :meth:`start` is called ``f = 0``. The same curve as
    :class:`WarmupCosine` (:func:`warmup_cosine`), with the budget's fraction for the step.
    """

    def __init__(
        self,
        budget_s: float,
        warmup_fraction: float = 0.05,
        min_ratio: float = 0.0,
        start_ratio: float = 0.01,
    ) -> None:
        if not budget_s > 0:
            raise ValueError(f"budget_s must be > 0, got {budget_s}")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if not 0.0 <= min_ratio <= 1.0 or not 0.0 < start_ratio <= 1.0:
            raise ValueError("need 0 <= min_ratio <= 1 and 0 < start_ratio <= 1")
        self.budget_s = float(budget_s)
        self.warmup_fraction = float(warmup_fraction)
        self.min_ratio = float(min_ratio)
        self.start_ratio = float(start_ratio)
        self.t0: float | None = None

    def start(self) -> None:
        self.t0 = time.monotonic()

    def fraction(self) -> float:
        if self.t0 is None:
            return 0.0
        return min(1.0, max(0.0, (time.monotonic() - self.t0) / self.budget_s))

    def multiplier(self, f: float) -> float:
        w, s = self.warmup_fraction, self.start_ratio
        # the warm-up line through (0, start_ratio) and (w, 1) meets 0 at f = -offset
        offset = math.inf if s >= 1.0 else s * w / (1.0 - s)
        return warmup_cosine(f, w, 1.0 - w, self.min_ratio, offset)

    def __call__(self, step: int) -> float:
        return self.multiplier(self.fraction())


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
