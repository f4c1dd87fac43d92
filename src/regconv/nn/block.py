"""ConvNeXt-style residual block around a group convolution."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regconv.ops import layer_norm_mlp


class ConvNeXtBlock(nn.Module):
    r"""``f + gamma * MLP(LayerNorm(conv(f)))`` with a 4x-wide two-layer GELU MLP.

    The convolution is depthwise (mixes space and fibre, not channels); the MLP mixes channels
    pointwise at every (point, orientation) — where the non-linearity of the block lives. The
    layer scale ``gamma`` starts small so the residual stream keeps the variance of its input.

    Shapes:
        f ``[N, O, C]`` -> ``[N, O, C]``; other arguments (``edge_weight`` only when given) are
        passed to ``conv``.
    """

    #: evaluate LayerNorm + MLP (+ layer scale) fused and chunked, recomputing the hidden layer in
    #: the backward pass (:func:`regconv.ops.mlp.layer_norm_mlp`); False: layer by layer.
    fused: bool = True

    def __init__(self, conv: nn.Module, channels: int, widening: int = 4, layer_scale: float | None = 1e-6) -> None:
        super().__init__()
        self.conv = conv
        self.norm = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(
            nn.Linear(channels, widening * channels),
            nn.GELU(),
            nn.Linear(widening * channels, channels),
        )
        if layer_scale is None:
            self.gamma = None
        else:
            self.gamma = nn.Parameter(torch.full((channels,), float(layer_scale)))

    def forward(
        self,
        f: Tensor,
        edge_index: Tensor,
        basis: Tensor,
        fibre_basis: Tensor | None = None,
        edge_weight: Tensor | None = None,
    ) -> Tensor:
        # ``edge_weight`` (e.g. the cutoff envelope) is passed on only to convolutions that take
        # it (attention); without it the call is exactly ``conv(f, edge_index, basis, fibre)``.
        if edge_weight is None:
            g = self.conv(f, edge_index, basis, fibre_basis)
        else:
            g = self.conv(f, edge_index, basis, fibre_basis, edge_weight=edge_weight)
        if self.fused and isinstance(self.mlp[1], nn.GELU) and self.mlp[1].approximate == "none":
            # Chunked, and storing only g for backward (recomputes the 4C-wide hidden layer).
            h = layer_norm_mlp(g, self.norm, self.mlp[0], self.mlp[2], self.gamma)
        else:
            h = self.mlp(self.norm(g))
            if self.gamma is not None:
                h = self.gamma * h
        return f + h
