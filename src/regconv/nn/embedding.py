"""Embedding of atomic numbers into channels."""

from __future__ import annotations

from torch import Tensor, nn


class AtomEmbedding(nn.Module):
    """Atomic numbers -> ``C`` channels, with a clear error for elements outside ``1..max_z``.

    Shapes:
        z ``[N]`` long -> ``[N, C]``.
    """

    def __init__(self, channels: int, max_z: int = 9) -> None:
        super().__init__()
        self.max_z = int(max_z)
        self.table = nn.Embedding(self.max_z + 1, channels)

    def forward(self, z: Tensor) -> Tensor:
        if z.numel() and (int(z.min()) < 1 or int(z.max()) > self.max_z):
            bad = z[(z < 1) | (z > self.max_z)].unique().tolist()
            raise ValueError(
                f"unknown element(s) with atomic number {bad}: this model knows 1..{self.max_z}"
            )
        return self.table(z)
