r"""Per-edge output head of the edge-cloud models (DimeNet-style output block)."""

from __future__ import annotations

from torch import Tensor, nn


class EdgeOutputBlock(nn.Module):
    r"""``o_e = u(d_e)\, W_2\, \sigma(W_1 ((R e(d_e)) \odot h_e) + b_1)``: ``k`` invariant numbers
    per directed edge, multiplied by the envelope so that they vanish at the cutoff.

    Models sum them onto graphs (scalars) or contract them with the edge directions at the
    receiving atom (vectors). Difference from DimeNet: the MLP acts on each edge before the sum
    onto atoms (DimeNet sums onto atoms first), so that the same head also gives vectors.

    Shapes:
        h ``[E, C]``; rbf ``[E, R]``; envelope ``[E, 1]`` or None -> ``[E, k]``.
    """

    def __init__(self, channels: int, rbf_dim: int, num_outputs: int) -> None:
        super().__init__()
        self.rbf = nn.Linear(rbf_dim, channels, bias=False)
        self.mlp = nn.Sequential(
            nn.Linear(channels, channels), nn.SiLU(), nn.Linear(channels, num_outputs, bias=False)
        )

    def forward(self, h: Tensor, rbf: Tensor, envelope: Tensor | None = None) -> Tensor:
        out = self.mlp(self.rbf(rbf) * h)
        return out if envelope is None else out * envelope
