"""``r3s2-attention``: group self-attention on R^3 x S^2, grid fibre (LieTransformer class)."""

from __future__ import annotations

from regconv.models.contract import Output
from regconv.models.fibre_net import FibreNet
from regconv.spaces import R3S2


class R3S2AttentionNet(FibreNet):
    r"""The ``r3s2`` network with attention convolutions
    (:class:`regconv.nn.AttentionGroupConv`) inside its ConvNeXt blocks.

    - **Space**: R^3 x S^2 = SE(3)/SO(2) with a shared grid of ``O`` orientations (Fibonacci).
      Grid-approximate: exact for translations, permutations and rotations that map the grid to
      itself (or when the grid is rotated with the input); otherwise the fibre sum is a
      quadrature and the error falls with ``O`` (as ``r3s2``).
    - **Kernel**: non-linear in the features: the spatial weights are attention coefficients
      ``softmax_j(q_{i,o} . k_{j,o} / sqrt(C/H) + B(b_{ij,o}) + log u_ij)`` normalised per
      receiving point and orientation, depending on both endpoints' features; values are
      ``f_{j,o} ⊙ k^sp(b_{ij,o})``; then the separable fibre step on ``n_o . n_p``.
    - **Conditions on**: the separable invariants ``(n_o . x_ij, |x_ij ⊥ n_o|)`` (through the shared
      kernel basis, in the logits and the values), the features (``q``, ``k``), ``n_o . n_p`` on the
      fibre, and the cutoff envelope ``u`` as an edge weight when ``cutoff`` is set.

    Differences from LieTransformer: a homogeneous space with a fixed orientation grid rather than
    sampled group elements (lifting by Monte-Carlo); attention within each orientation (the same
    ``o`` at both points) followed by a learned fibre convolution instead of attention over all
    pairs of group elements; dot-product plus location-bias logits (LieTransformer's "dot-product
    + MLP(location)" variant) and softmax normalisation; ConvNeXt blocks around the layer.

    Args:
        heads: attention heads (must divide ``hidden``).
        Others as :class:`regconv.models.R3S2Net`.
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
        num_orientations: int = 16,
        heads: int = 4,
        basis_dim: int = 64,
        degree: int = 3,
        cutoff: float | None = None,
        length_scale: float = 5.0,
        widening: int = 4,
        layer_scale: float | None = 1e-6,
        max_z: int = 9,
    ) -> None:
        super().__init__(
            num_outputs, output, in_features, vector_in,
            space=R3S2(num_orientations),
            hidden=hidden, layers=layers, basis_dim=basis_dim, degree=degree, cutoff=cutoff,
            length_scale=length_scale, widening=widening, layer_scale=layer_scale,
            kernel="attention", heads=heads, max_z=max_z, table_step=None, self_loops=False,
            readout_all_layers=False, pooling="sum", pair_features=None,
        )  # fmt: skip
