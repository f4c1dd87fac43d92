"""Embedding of atomic numbers into channels."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class AtomEmbedding(nn.Module):
    """Atomic numbers -> ``C`` channels, with a clear error for elements outside ``1..max_z``.

    The table starts as ``N(0, init_std^2)`` (``nn.Embedding``'s default is 1).

    Shapes:
        z ``[N]`` long -> ``[N, C]``.
    """

    def __init__(self, channels: int, max_z: int = 9, *, init_std: float = 1.0) -> None:
        super().__init__()
        if not (init_std > 0 and math.isfinite(init_std)):
            raise ValueError(f"init_std must be finite and positive, got {init_std}")
        self.max_z = int(max_z)
        self.table = nn.Embedding(self.max_z + 1, channels)
        if init_std != 1.0:
            with torch.no_grad():
                self.table.weight.normal_(0.0, float(init_std))

    def forward(self, z: Tensor) -> Tensor:
        if z.numel() and (int(z.min()) < 1 or int(z.max()) > self.max_z):
            bad = z[(z < 1) | (z > self.max_z)].unique().tolist()
            raise ValueError(
                f"unknown element(s) with atomic number {bad}: this model knows 1..{self.max_z}"
            )
        return self.table(z)
