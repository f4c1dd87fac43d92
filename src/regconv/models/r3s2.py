"""``r3s2``: regular group convolutions on R^3 x S^2 with a grid fibre (PONITA class)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from regconv.kernels.pair_features import PairFeature
from regconv.models.contract import Output
from regconv.models.fibre_net import FibreNet
from regconv.spaces import R3S2


class R3S2Net(FibreNet):
    r"""Regular GNN on position-orientation space R^3 x S^2 with a shared grid of ``O``
    orientations: features ``[N, O, C]``, separable kernels (spatial on
    ``(n_o.x_ij, |x_ij ⊥ n_o|)``, then over the sphere on ``n_o.n_p``) or the full kernel on the
    complete pair invariants.

    Space R^3 x S^2 = SE(3)/SO(2); kernels non-linear functions of the invariants, blocks
    non-linear in the features. Only approximately invariant: the fibre sum is a quadrature on
    S^2, exact for rotations that map the grid to itself; see the README table of the error
    against ``O``. Vector inputs lift as ``v.n_o``; vector outputs project back.

    Args:
        num_orientations: grid size ``O`` (Fibonacci lattice).
        kernel: ``"separable"`` or ``"full"`` (``O`` times costlier, complete invariants).
        chiral: keep the sign of the azimuthal invariant in the full kernel (SE(3) rather than
            E(3)); ignored by the separable kernel, which is E(3)-invariant.
        table_step: a grid step in the units of ``pos`` (default ``0.1`` Å), or None for the
            exact kernel: the spatial kernel is read from a table of its values on a grid over
            ``(n_o.x_ij, |x_ij ⊥ n_o|)`` — same parameters and ``state_dict``, faster; see
            :class:`regconv.kernels.TabulatedBasis`. The exact kernel is needed for
            ``kernel="full"`` and for pair features (more than two kernel inputs).
        table_order: ``"quadratic"`` (default since release 0.4: the quadratic B-spline
            quasi-interpolant per invariant, 9 nodes per row, C¹: continuous forces, error
            ``O(h^3)``), ``"cubic"`` (Catmull-Rom, 16 nodes, C¹, error ``O(h^3)``; the default of
            releases 0.2 and 0.3) or ``"linear"`` (bilinear, 4 nodes: faster, C⁰, energies only).
            The table is the default since release 0.2 (it trains like the exact kernel step for
            step on QM9, BENCHMARKS.md); checkpoints of 0.1 load with the exact kernel, those of
            0.2 and 0.3 with the cubic table.
        basis_radial: Gaussians of the pair distance among the spatial kernel basis's features
            (default 50, since release 0.3: a distance resolved directly, as in SchNet's radial
            basis; on the QM9 main job 15 % lower validation error, 170.4 against 201.3 meV
            over three seeds, BENCHMARKS.md); checkpoints of earlier releases load with 0.
        basis_rbf, conv_gain, embedding_std, final_norm, readout_hidden: initialisation and
            readout, as in :class:`regconv.models.FibreNet`.
        Other arguments as in :class:`regconv.models.R3Net`.
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
        basis_dim: int = 64,
        degree: int = 3,
        cutoff: float | None = None,
        length_scale: float = 5.0,
        widening: int = 4,
        layer_scale: float | None = 1e-6,
        kernel: Literal["separable", "full"] = "separable",
        chiral: bool = False,
        max_z: int = 9,
        table_step: float | None = 0.1,
        table_order: str = "quadratic",
        self_loops: bool = False,
        readout_all_layers: bool = False,
        pooling: str = "sum",
        pair_features: Sequence[PairFeature | Mapping[str, Any]] | None = None,
        basis_rbf: int = 0,
        conv_gain: float = 1.0,
        embedding_std: float = 1.0,
        final_norm: bool = True,
        readout_hidden: int = 0,
        basis_radial: int = 50,
    ) -> None:
        if kernel not in ("separable", "full"):
            raise ValueError(f"kernel must be 'separable' or 'full', got {kernel!r}")
        super().__init__(
            num_outputs, output, in_features, vector_in,
            space=R3S2(num_orientations, chiral=chiral),
            hidden=hidden, layers=layers, basis_dim=basis_dim, degree=degree, cutoff=cutoff,
            length_scale=length_scale, widening=widening, layer_scale=layer_scale, kernel=kernel,
            heads=None, max_z=max_z, table_step=table_step, table_order=table_order,
            self_loops=self_loops,
            readout_all_layers=readout_all_layers, pooling=pooling, pair_features=pair_features,
            basis_rbf=basis_rbf, conv_gain=conv_gain, embedding_std=embedding_std,
            final_norm=final_norm, readout_hidden=readout_hidden, basis_radial=basis_radial,
        )  # fmt: skip
