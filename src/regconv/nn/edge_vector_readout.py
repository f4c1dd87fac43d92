r"""Equivariant node vectors where the fibre cannot hold a vector (R^3): from the edge vectors."""

from __future__ import annotations

from torch import Tensor, nn

from regconv.kernels.pair_features import PairGeometry
from regconv.ops import scatter_sum

__all__ = ["EdgeVectorReadout"]


class EdgeVectorReadout(nn.Module):
    r"""EGNN-style node vectors on a trivial fibre:

    .. math::
        v_i = \sum_j x_{ij}\, w(h_i, h_j, b_{ij}) + \sum_v u_v(h_i)\, \mathrm{vec}_{i,v}

    with ``w`` an MLP of the product ``h_i ⊙ h_j ⊙ W b_ij`` (``b_ij`` the kernel basis of the
    pair) and ``u`` a linear map of ``h_i``; exactly E(3)-equivariant.

    Shapes:
        h ``[N, 1, C]``; pairs: edge_index ``[2, E]``, x_ij ``[E, 3]``, vec ``[N, V, 3]``;
        basis ``[E, 1, K]`` -> ``[N, k, 3]``.
    """

    def __init__(self, hidden: int, basis_dim: int, num_outputs: int, vector_in: int) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        self.vector_in = vector_in
        self.edge_kernel = nn.Linear(basis_dim, hidden, bias=False)
        self.edge_weight = nn.Sequential(
            nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, num_outputs)
        )
        self.node_weight = nn.Linear(hidden, num_outputs * vector_in) if vector_in else None

    def forward(self, h: Tensor, pairs: PairGeometry, basis: Tensor, space=None) -> Tensor:
        src, dst = pairs.edge_index[0], pairs.edge_index[1]
        f = h[:, 0]  # [N, C]
        kernel = self.edge_kernel(basis[:, 0])  # [E, C]
        pair = f.index_select(0, src) * f.index_select(0, dst) * kernel  # [E, C]
        w = self.edge_weight(pair)  # [E, k]
        out = scatter_sum(w.unsqueeze(-1) * pairs.x_ij.unsqueeze(1), dst, f.shape[0])  # [N, k, 3]
        if self.node_weight is not None:
            u = self.node_weight(f).view(-1, self.num_outputs, self.vector_in)  # [N, k, V]
            out = out + u @ pairs.vec  # [N, k, 3]
        return out
