"""``se3``: regular group convolutions on SE(3) with a finite rotation group as fibre."""

from __future__ import annotations

from regconv.models.fibre_net import FibreNet, Output
from regconv.spaces import SE3


class SE3Net(FibreNet):
    r"""Regular GNN on SE(3): every atom carries the ``O`` frames of a finite rotation group;
    features ``[N, O, C]``; separable kernels on ``R_o^T x_ij`` (space) and ``R_o^T R_p`` (fibre).

    Space SE(3) (complete invariants); chiral (SE(3)-, not E(3)-invariant). Exactly invariant to
    the rotations of the chosen group, approximately to others (quadrature over SO(3)).

    Args:
        group: ``"tetrahedral"`` (12), ``"octahedral"`` (24) or ``"icosahedral"`` (60) frames.
        vector_skip: add a learned linear map of the input vectors to the vector outputs
            (``output="node_vector"`` with ``vector_in > 0``); see :class:`regconv.models.FibreNet`.
        self_loops: include the edge ``(i, i)`` in every graph (see :class:`regconv.models.FibreNet`).
        readout_all_layers, pooling, radial_scales, approach_horizon, approach_invariants:
            read out every block / average over atoms / inverse-square features of the distance
            and of the closest approach for the kernel / invariants of where each pair is heading
            (see :class:`regconv.models.FibreNet`).
        Other arguments as in :class:`regconv.models.R3Net`.
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
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
        vector_skip: bool = False,
        self_loops: bool = False,
        readout_all_layers: bool = False,
        pooling: str = "sum",
        radial_scales: list[float] | None = None,
        approach_horizon: float | None = None,
        approach_invariants: bool = False,
    ) -> None:
        super().__init__(
            SE3(group),
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
            vector_skip=vector_skip,
            self_loops=self_loops,
            readout_all_layers=readout_all_layers,
            pooling=pooling,
            radial_scales=radial_scales,
            approach_horizon=approach_horizon,
            approach_invariants=approach_invariants,
        )
