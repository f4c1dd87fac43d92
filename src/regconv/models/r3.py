"""``r3``: regular group convolutions on R^3 (atoms as points; SchNet/EGNN class)."""

from __future__ import annotations

from torch import Tensor, nn

from regconv.models.fibre_net import FibreNet, Output
from regconv.ops import scatter_sum
from regconv.spaces import R3


class _EdgeVectorReadout(nn.Module):
    r"""Equivariant node vectors on R^3, where the fibre is trivial:

    ``v_i = sum_j x_ij w(h_i, h_j, |x_ij|) + sum_v u_v(h_i) vec_{i,v}``.

    Shapes:
        h ``[N, 1, C]``, x_ij ``[E, 3]``, basis ``[E, 1, K]`` -> ``[N, k, 3]``.
    """

    def __init__(self, hidden: int, basis_dim: int, num_outputs: int, vector_in: int) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        self.vector_in = vector_in
        self.edge_kernel = nn.Linear(basis_dim, hidden, bias=False)
        self.edge_weight = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, num_outputs))
        self.node_weight = nn.Linear(hidden, num_outputs * vector_in) if vector_in else None

    def forward(self, h: Tensor, batch, edge_index: Tensor, x_ij: Tensor, basis: Tensor) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        f = h[:, 0]  # [N, C]
        pair = f.index_select(0, src) * f.index_select(0, dst) * self.edge_kernel(basis[:, 0])  # [E, C]
        w = self.edge_weight(pair)  # [E, k]
        out = scatter_sum(w.unsqueeze(-1) * x_ij.unsqueeze(1), dst, f.shape[0])  # [N, k, 3]
        if self.node_weight is not None:
            u = self.node_weight(f).view(-1, self.num_outputs, self.vector_in)  # [N, k, V]
            out = out + u @ batch.vec  # [N, k, 3]
        return out


class R3Net(FibreNet):
    r"""Regular GNN on R^3: continuous-filter group convolutions conditioned on ``|x_ij|``
    inside ConvNeXt blocks (non-linear in the features through the blocks' MLPs).

    Space R^3 (complete invariant, so exactly E(3)-invariant / equivariant). Vector inputs enter
    through their norms; vector outputs are built from edge vectors and the input vectors
    (EGNN-style), so they are exactly E(3)-equivariant.

    Args:
        num_outputs: number of graph scalars (or node vectors) predicted.
        output: ``"graph"`` -> ``[B, k]`` invariants; ``"node_vector"`` -> ``[N, k, 3]``.
        in_features: 0 to embed ``batch.z`` (atomic numbers), else the width of ``batch.x``.
        vector_in: number of input vectors per node in ``batch.vec [N, V, 3]``.
        hidden: channels ``C``; layers: number of ConvNeXt blocks.
        basis_dim: kernel-basis size ``K``; degree: degree of the polynomial invariant features.
        cutoff: radius graph cutoff in the units of ``pos`` (None = fully connected graphs).
        length_scale: positions are divided by it before computing invariants.
        widening: MLP widening in the blocks; layer_scale: initial residual scale.
        max_z: largest atomic number the embedding knows.
        table_step: None (exact kernel) or a grid step in the units of ``pos``: the kernel is
            then linearly interpolated from a table over ``|x_ij|`` (see
            :class:`regconv.nn.TabulatedBasis`).
        self_loops: include the edge ``(i, i)`` in every graph (see :class:`regconv.models.FibreNet`).
        readout_all_layers, pooling, radial_scales, approach_horizon, approach_invariants:
            read out every block / average over atoms / inverse-square features of the distance
            and of the closest approach for the kernel / invariants of where each pair is heading
            (see :class:`regconv.models.FibreNet`).
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        hidden: int = 128,
        layers: int = 5,
        basis_dim: int = 64,
        degree: int = 3,
        cutoff: float | None = 5.0,
        length_scale: float = 5.0,
        widening: int = 4,
        layer_scale: float | None = 1e-6,
        max_z: int = 9,
        table_step: float | None = None,
        self_loops: bool = False,
        readout_all_layers: bool = False,
        pooling: str = "sum",
        radial_scales: list[float] | None = None,
        approach_horizon: float | None = None,
        approach_invariants: bool = False,
    ) -> None:
        super().__init__(
            R3(),
            num_outputs=num_outputs,
            output=output,
            in_features=in_features,
            vector_in=vector_in,
            hidden=hidden,
            layers=layers,
            basis_dim=basis_dim,
            degree=degree,
            cutoff=cutoff,
            length_scale=length_scale,
            widening=widening,
            layer_scale=layer_scale,
            kernel="separable",
            max_z=max_z,
            table_step=table_step,
            self_loops=self_loops,
            readout_all_layers=readout_all_layers,
            pooling=pooling,
            radial_scales=radial_scales,
            approach_horizon=approach_horizon,
            approach_invariants=approach_invariants,
        )

    def _vector_lift_layer(self, vector_in: int, hidden: int) -> nn.Module | None:
        return nn.Linear(vector_in, hidden, bias=False) if vector_in else None

    def _vector_readout_layer(self, hidden: int, num_outputs: int) -> nn.Module:
        return _EdgeVectorReadout(hidden, self.spatial_basis.out_dim, num_outputs, self.vector_in)

    def _vector_output(self, h, batch, edge_index, x_ij, basis):
        return self.readout(h, batch, edge_index, x_ij, basis)
