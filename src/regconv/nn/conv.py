"""The separable regular group convolution on a space with a (possibly trivial) fibre."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regconv.kernels import TabulatedBasis
from regconv.nn.fibre import fibre_step
from regconv.ops import kernel_message_sum, scatter_sum, table_message_sum


class SeparableGroupConv(nn.Module):
    r"""Depthwise separable regular group convolution.

    Spatial step (over neighbours, per orientation), then a convolution over the fibre:

    .. math::
        g(x_i, o) = \sum_{j \in \mathcal{N}(i)} k^{sp}_c(a_{ij,o})\, f_c(x_j, o), \qquad
        f'_c(x_i, o) = \frac{1}{O} \sum_{p} k^{fib}_c(a_{op})\, g_c(x_i, p) + b_c

    where ``a_{ij,o}`` are the spatial pair invariants seen from orientation ``o`` and ``a_{op}``
    the fibre invariants. Each kernel is a per-layer linear map of a shared kernel basis (itself an
    MLP of the invariants), so the kernel is any smooth function of the invariants and the layer
    is equivariant by construction. With a trivial fibre (``O = 1``, no fibre basis) this is a
    continuous-filter convolution on R^3 (or, with edges as points, on the edge cloud).

    ``basis`` is either the dense ``[E, O, K]`` basis or a :class:`regconv.kernels.TabulatedBasis`
    (the basis at grid nodes plus interpolation weights; the kernel of every layer is then its
    ``G``-row table, interpolated per (edge, orientation)).

    The spatial sum runs fused and chunked (:mod:`regconv.ops.message`): no ``[E, O, C]`` tensor
    is stored for the backward pass. ``fused = False`` (an attribute, not saved) selects the
    plain reference computation ``scatter_sum(f[src] * Linear(basis), dst)``; both give the
    same result up to float round-off.

    Shapes:
        f ``[N, O, C]``; edge_index ``[2, E]`` (src j, dst i); basis ``[E, O, K]``;
        fibre_basis ``[O, O, K_f]`` or None -> ``[N, O, C]``.
    """

    fused: bool = True

    def __init__(
        self,
        channels: int,
        basis_dim: int,
        fibre_basis_dim: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.spatial = nn.Linear(basis_dim, channels, bias=False)
        self.fibre = nn.Linear(fibre_basis_dim, channels, bias=False) if fibre_basis_dim else None
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(
        self, f: Tensor, edge_index: Tensor, basis: Tensor, fibre_basis: Tensor | None = None
    ) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        if isinstance(basis, TabulatedBasis):
            table = self.spatial(basis.values)  # [G, C]: the kernel at the used grid nodes
            out = table_message_sum(f, table, basis.weights, basis.plan)  # [N, O, C]
        elif self.fused and basis.dim() == 3 and basis.shape[1] == f.shape[1]:
            out = kernel_message_sum(f, src, dst, basis, self.spatial.weight)  # [N, O, C]
        else:
            kernel = self.spatial(basis)  # [E, O, C]
            out = scatter_sum(f.index_select(0, src) * kernel, dst, f.shape[0])  # [N, O, C]
        return fibre_step(out, self.fibre, fibre_basis, self.bias)  # [N, O, C]
