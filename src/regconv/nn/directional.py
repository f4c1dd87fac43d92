r"""DimeNet-style interaction between directed edges (a Hadamard triplet interaction)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from regconv.nn.conv import SeparableGroupConv


def glorot_orthogonal_(weight: Tensor, scale: float = 2.0) -> Tensor:
    """DimeNet's initialisation: a random orthogonal matrix rescaled to variance
    ``scale / (fan_in + fan_out)`` (in place)."""
    with torch.no_grad():
        nn.init.orthogonal_(weight)
        weight.mul_(math.sqrt(scale / (weight.shape[0] + weight.shape[1])) / weight.std())
    return weight


class _Residual(nn.Module):
    """``x + act(W_2 act(W_1 x))`` (DimeNet's residual layer)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(channels, channels), nn.SiLU(), nn.Linear(channels, channels), nn.SiLU()
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mlp(x)


class DirectionalInteraction(nn.Module):
    r"""Update the features of every directed edge ``b = (j -> i)`` from the edges ``a = (k -> j)``
    that end where it starts (the edge cloud of R^3 x S^2), DimeNet++-style:

    .. math::
        x_a &= \sigma\big(D\, (\sigma(W_{kj} h_a) \odot R\, e(d_a))\big) \\
        g_b &= \sigma\Big(U \sum_{a \to b} (S\, t_{ab}) \odot x_a\Big) \\
        m_b &= \sigma(W_{ji} h_b) + g_b, \qquad
        h_b \leftarrow \mathrm{Res}\big(h_b + \sigma(W_s\, \mathrm{Res}(m_b))\big)

    ``e(d)`` is the radial basis of the edge length, ``t_ab`` the triplet basis (radial x angular,
    and torsion for SphereNet), ``D``/``U`` down/up projections to ``int_channels``. The sum over
    ``a`` is :class:`regconv.nn.SeparableGroupConv` on the edge cloud (kernel ``S t_ab``, linear in
    the basis); the message is non-linear in the features (``sigma`` before and after, and the
    receiving edge's own ``sigma(W_ji h_b)``). Weights start glorot-orthogonal (as DimeNet).

    Shapes:
        h ``[E, C]``; pairs ``[2, T]`` (row 0: edge a, row 1: edge b); rbf ``[E, R]``;
        triplet ``[T, K]`` -> ``[E, C]``.
    """

    def __init__(self, channels: int, int_channels: int, rbf_dim: int, triplet_dim: int) -> None:
        super().__init__()
        self.act = nn.SiLU()
        self.lin_ji = nn.Linear(channels, channels)
        self.lin_kj = nn.Linear(channels, channels)
        self.rbf = nn.Linear(rbf_dim, channels, bias=False)
        self.down = nn.Linear(channels, int_channels, bias=False)
        self.conv = SeparableGroupConv(int_channels, triplet_dim, bias=False)
        self.up = nn.Linear(int_channels, channels, bias=False)
        self.before_skip = _Residual(channels)
        self.lin_skip = nn.Linear(channels, channels)
        self.after_skip = _Residual(channels)
        # DimeNet's glorot-orthogonal init: with PyTorch's default the products along the
        # triplet path (~5 layers) leave its messages ~1e-3 of the residual stream at init.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                glorot_orthogonal_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, h: Tensor, pairs: Tensor, rbf: Tensor, triplet: Tensor) -> Tensor:
        x_ji = self.act(self.lin_ji(h))  # [E, C]
        x_kj = self.act(self.lin_kj(h)) * self.rbf(rbf)  # [E, C]
        x_kj = self.act(self.down(x_kj)).unsqueeze(1)  # [E, 1, I]
        g = self.conv(x_kj, pairs, triplet.unsqueeze(1))[:, 0]  # [E, I]
        m = x_ji + self.act(self.up(g))
        m = self.before_skip(m)
        return self.after_skip(h + self.act(self.lin_skip(m)))
