"""``r3``: regular group convolutions on R^3 (atoms as points; SchNet/EGNN class)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from regconv.kernels.pair_features import PairFeature
from regconv.models.contract import Output
from regconv.models.fibre_net import FibreNet
from regconv.spaces import R3


class R3Net(FibreNet):
    r"""Regular GNN on R^3: continuous-filter group convolutions conditioned on ``|x_ij|``
    inside ConvNeXt blocks (non-linear in the features through the blocks' MLPs).

    Space R^3 (complete invariant, so exactly E(3)-invariant / equivariant). Vector inputs enter
    through their norms; vector outputs are built from edge vectors and the input vectors
    (:class:`regconv.nn.EdgeVectorReadout`), so they are exactly E(3)-equivariant.

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
            :class:`regconv.kernels.TabulatedBasis`).
        table_order: ``"linear"``, ``"quadratic"`` or ``"cubic"`` (both C¹: continuous forces;
            :mod:`regconv.kernels.table`).
        self_loops: include the edge ``(i, i)`` in every graph.
        readout_all_layers: read out every block, not only the last.
        pooling: ``"sum"`` or ``"mean"`` over atoms (graph outputs).
        pair_features: extra kernel inputs (:mod:`regconv.kernels.pair_features`).
        (See :class:`regconv.models.FibreNet`.)
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        *,
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
        table_order: str = "linear",
        self_loops: bool = False,
        readout_all_layers: bool = False,
        pooling: str = "sum",
        pair_features: Sequence[PairFeature | Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            num_outputs, output, in_features, vector_in,
            space=R3(),
            hidden=hidden, layers=layers, basis_dim=basis_dim, degree=degree, cutoff=cutoff,
            length_scale=length_scale, widening=widening, layer_scale=layer_scale,
            kernel="separable", heads=None, max_z=max_z, table_step=table_step,
            table_order=table_order,
            self_loops=self_loops, readout_all_layers=readout_all_layers, pooling=pooling,
            pair_features=pair_features,
        )  # fmt: skip
