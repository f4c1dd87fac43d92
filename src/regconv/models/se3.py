"""``se3``: regular group convolutions on SE(3) with a finite rotation group as fibre."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from regconv.kernels.pair_features import PairFeature
from regconv.models.contract import Output
from regconv.models.fibre_net import FibreNet
from regconv.spaces import SE3


class SE3Net(FibreNet):
    r"""Regular GNN on SE(3): every atom carries the ``O`` frames of a finite rotation group;
    features ``[N, O, C]``; separable kernels on ``R_o^T x_ij`` (space) and ``R_o^T R_p`` (fibre).

    Space SE(3) (complete invariants); chiral (SE(3)-, not E(3)-invariant). Exactly invariant to
    the rotations of the chosen group, approximately to others (quadrature over SO(3)).

    Args:
        group: ``"tetrahedral"`` (12), ``"octahedral"`` (24) or ``"icosahedral"`` (60) frames.
        Other arguments as in :class:`regconv.models.R3Net` (no ``table_step``: three spatial
        invariants are more than a table holds).
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
        group: str = "octahedral",
        basis_dim: int = 64,
        degree: int = 3,
        cutoff: float | None = 5.0,
        length_scale: float = 5.0,
        widening: int = 4,
        layer_scale: float | None = 1e-6,
        max_z: int = 9,
        self_loops: bool = False,
        readout_all_layers: bool = False,
        pooling: str = "sum",
        pair_features: Sequence[PairFeature | Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(
            num_outputs, output, in_features, vector_in,
            space=SE3(group),
            hidden=hidden, layers=layers, basis_dim=basis_dim, degree=degree, cutoff=cutoff,
            length_scale=length_scale, widening=widening, layer_scale=layer_scale,
            kernel="separable", heads=None, max_z=max_z, table_step=None, self_loops=self_loops,
            readout_all_layers=readout_all_layers, pooling=pooling, pair_features=pair_features,
        )  # fmt: skip
