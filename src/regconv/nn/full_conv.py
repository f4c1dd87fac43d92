"""The full (non-separable) regular group convolution on R^3 x S^2 with a grid fibre."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regconv.ops import scatter_sum


class FullGroupConv(nn.Module):
    r"""Regular group convolution whose kernel sees the complete pair invariants.

    .. math::
        f'_c(x_i, o) = \frac{1}{O} \sum_{j \in \mathcal{N}(i)} \sum_p
            k_c(a_{ij, op})\, f_c(x_j, p) + b_c

    with ``a_{ij,op}`` the complete invariants of ``((x_i, n_o), (x_j, n_p))``
    (:func:`regconv.geometry.full_r3s2_invariants`). Costs ``O`` times the separable form.

    Shapes:
        f ``[N, O, C]``; edge_index ``[2, E]``; basis ``[E, O, O, K]`` -> ``[N, O, C]``.
    """

    def __init__(self, channels: int, basis_dim: int, bias: bool = True) -> None:
        super().__init__()
        self.kernel = nn.Linear(basis_dim, channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(self, f: Tensor, edge_index: Tensor, basis: Tensor, fibre_basis: Tensor | None = None) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        kernel = self.kernel(basis)  # [E, O, O, C]
        msg = torch.einsum("eopc,epc->eoc", kernel, f.index_select(0, src)) / kernel.shape[2]
        out = scatter_sum(msg, dst, f.shape[0])  # [N, O, C]
        if self.bias is not None:
            out = out + self.bias
        return out
