"""``schnet``: SchNet (Schütt et al. 2017) as continuous-filter convolutions on R^3."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from regconv.kernels import Envelope, GaussianRBF, TableSpec, build_envelope
from regconv.kernels.pair_features import PairGeometry
from regconv.kernels.table import ORDERS
from regconv.models.contract import Output, batch_edges, batch_vector, check_batch, set_contract
from regconv.nn import AtomEmbedding, EdgeVectorReadout, GraphScalarReadout
from regconv.nn.activation import ShiftedSoftplus
from regconv.nn.cfconv import CFConvInteraction
from regconv.spaces import R3
from regconv.utils.checks import check_choice, check_int, optional_positive


class SchNet(nn.Module):
    r"""SchNet: interaction blocks of continuous-filter convolutions on Gaussian distance bases.

    - **Space**: R^3 (atoms as points, trivial fibre); pair invariant ``d_ij = |x_j - x_i|``,
      complete, so the model is exactly E(3)-invariant (E(3)-equivariant for vector outputs).
    - **Kernel**: linear in the features. The message is ``W(d_ij) ⊙ (W_in h_j)``: a filter of
      the distance alone (an MLP of Gaussian RBFs times a cosine cutoff) multiplies the sender's
      features (:class:`regconv.nn.cfconv.CFConvInteraction`, built on
      :class:`regconv.nn.SeparableGroupConv`); non-linearities act only after aggregation.
    - **Conditions on**: the distance ``d_ij`` through ``num_rbf`` Gaussians on ``[0, r]`` (``r``
      the cutoff, or 10 when ``cutoff`` is None), width = spacing, times the cutoff envelope
      (``envelope``: the cosine when None).
    - **Readout**: atom-wise ``Linear(C, C/2) -> ssp -> Linear(C/2, k)`` summed over atoms
      (or averaged: ``pooling="mean"``).
      Vectors: as ``r3``, ``v_i = sum_j x_ij w(h_i, h_j, d_ij) + sum_v u_v(h_i) vec_{i,v}``
      (:class:`regconv.nn.EdgeVectorReadout`); vector inputs enter through their norms.

    Differences from the paper: the filter's last dense layer has no bias (the cutoff multiplies
    its input); one shared filter width for all Gaussians (SchNet: gamma = 10 Å^-2 on 0.1 Å
    spacing up to 30 Å); the default cutoff is 5 Å (as SchNetPack's QM9 setup) with a cosine
    envelope; no atom-reference / standardisation layers (the training task handles targets).

    Args:
        num_outputs, output, in_features, vector_in, cutoff, envelope, max_z: as
            :class:`regconv.models.FibreNet`.
        hidden: atom-feature channels ``C``; layers: number of interaction blocks.
        num_filters: filter channels ``F`` of the convolution (``hidden`` when None).
        num_rbf: number of Gaussians.
        pooling: ``"sum"`` over atoms (extensive targets, the paper's choice) or ``"mean"``
            (intensive targets such as orbital energies); graph outputs only.
        table_step: None (exact filters) or a distance step in Å: the filter networks run on
            the nodes of a grid of this step over the distances of the batch and every edge
            reads its filter by linear interpolation (:mod:`regconv.kernels.table`). Same
            parameters and ``state_dict``; the filters become their piecewise-linear
            interpolants (error about ``step^2 / 8`` times their second derivative), the cost
            of the filters no longer grows with the number of edges, and every exact symmetry
            is kept. With ``table_order="linear"`` the interpolant's gradient in the positions
            is piecewise constant: train on forces with exact filters or a C¹ order.
        table_order: ``"linear"``, ``"quadratic"`` (quadratic B-spline quasi-interpolant) or
            ``"cubic"`` (Catmull-Rom); both C¹ (continuous forces), error ``O(step^3)``.
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        *,
        hidden: int = 128,
        layers: int = 6,
        num_filters: int | None = None,
        num_rbf: int = 50,
        cutoff: float | None = 5.0,
        envelope: Envelope | Mapping[str, Any] | None = None,
        max_z: int = 9,
        pooling: str = "sum",
        table_step: float | None = None,
        table_order: str = "linear",
    ) -> None:
        super().__init__()
        set_contract(self, num_outputs, output, in_features, vector_in)
        if pooling != "sum" and output != "graph":  # values: checked by GraphScalarReadout
            raise ValueError("pooling applies to output='graph' only")
        for name, value in (("hidden", hidden), ("layers", layers), ("num_rbf", num_rbf)):
            check_int(name, value)
        optional_positive("cutoff", cutoff)
        step = optional_positive("table_step", table_step)
        check_choice("table_order", table_order, ORDERS)
        #: the radial basis read from a table (:class:`regconv.kernels.TableSpec`), or None
        self.table = None if step is None else TableSpec(step, table_order)
        filters = check_int("num_filters", hidden if num_filters is None else num_filters)
        self.space = R3()
        self.cutoff = cutoff
        self.embed = (
            nn.Linear(in_features, hidden) if in_features > 0 else AtomEmbedding(hidden, max_z)
        )
        self.embed_vec = nn.Linear(vector_in, hidden, bias=False) if vector_in else None
        self.rbf = GaussianRBF(num_rbf, cutoff if cutoff is not None else 10.0)
        self.envelope = build_envelope(envelope, cutoff)
        self.interactions = nn.ModuleList(
            CFConvInteraction(hidden, num_rbf, filters) for _ in range(layers)
        )
        if output == "graph":
            half = max(hidden // 2, 1)
            self.atomwise = nn.Sequential(nn.Linear(hidden, half), ShiftedSoftplus())
            self.readout = GraphScalarReadout(half, num_outputs, pooling)
        else:
            self.atomwise = None
            self.readout = EdgeVectorReadout(hidden, num_rbf, num_outputs, vector_in)

    def forward(self, batch) -> Tensor:
        check_batch(batch, self.in_features, self.vector_in)
        pos = batch.pos
        bvec, num_graphs = batch_vector(batch)
        edge_index, x_ij, _ = batch_edges(batch, pos, bvec, self.cutoff)  # [2, E], [E, 3]
        d = self.space.spatial_invariants(x_ij)[:, 0, 0]  # [E]
        env = self.envelope(d).unsqueeze(-1) if self.envelope is not None else None  # [E, 1]
        if self.table is None:
            rbf, filter_env = self.rbf(d), env  # [E, R], [E, 1]
        else:  # radial basis at the grid nodes, envelope folded into the interpolation weights
            flat_env = env.squeeze(-1) if env is not None else None
            rbf = self.table.tabulate(
                lambda c: self.rbf(c[:, 0]), d.view(-1, 1, 1), edge_index[0], edge_index[1],
                flat_env,
            )
            filter_env = None

        h = self.embed(batch.x if self.in_features else batch.z)  # [N, C]
        if self.embed_vec is not None:
            h = h + self.embed_vec(self.space.lift_vectors(batch.vec)[:, 0])
        for block in self.interactions:
            h = block(h, edge_index, rbf, filter_env)
        if self.output == "graph":
            return self.readout(self.atomwise(h).unsqueeze(1), bvec, num_graphs)  # [B, k]
        if self.table is not None:
            rbf = self.rbf(d)  # [E, R], exact for the vector readout
        basis = (rbf if env is None else rbf * env).unsqueeze(1)  # [E, 1, R]
        pairs = PairGeometry(edge_index, x_ij, 1.0, batch.vec if self.vector_in else None)
        return self.readout(h.unsqueeze(1), pairs, basis)  # [N, k, 3]
