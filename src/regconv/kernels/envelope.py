"""Smooth cutoff envelopes: kernels go to zero at the cutoff so a radius graph is continuous."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class CosineCutoff(nn.Module):
    r"""``u(d) = (cos(pi d / r_c) + 1) / 2`` for ``d < r_c``, else 0 (value and slope vanish at
    ``r_c``). The cutoff is a buffer.

    Shapes:
        ``[*] -> [*]``.
    """

    def __init__(self, cutoff: float) -> None:
        super().__init__()
        if not (cutoff > 0 and math.isfinite(cutoff)):
            raise ValueError(f"cutoff must be finite and positive, got {cutoff}")
        self.register_buffer("cutoff", torch.tensor(float(cutoff)))

    def forward(self, d: Tensor) -> Tensor:
        u = 0.5 * (torch.cos(math.pi * d / self.cutoff) + 1.0)
        return torch.where(d < self.cutoff, u, torch.zeros_like(u))
