"""The generic node model of the regular GNNs: ConvNeXt blocks of group convolutions on a
:class:`regconv.spaces.FibreSpace` (R^3, R^3 x S^2 with a grid fibre, SE(3)), built from
components."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from regconv.graph import NodeOrder
from regconv.kernels import (
    BasisSpec,
    Envelope,
    TableSpec,
    TabulatedBasis,
    build_basis,
    build_envelope,
    build_table,
)
from regconv.kernels.pair_features import (
    DistanceFeature,
    PairFeature,
    PairGeometry,
    build_pair_features,
)
from regconv.models.contract import Output, batch_edges, batch_vector, check_batch, set_contract
from regconv.nn import AtomEmbedding, BlockSpec, ReadoutSpec, build_block, build_readout
from regconv.spaces import FibreSpace, build_space
from regconv.utils.checks import check_bool, check_int, optional_positive

__all__ = ["FibreNet"]

Spec = Mapping[str, Any]


class FibreNet(nn.Module):
    r"""A stack of ConvNeXt blocks of regular group convolutions on a space with a fibre.

    Lift (embed scalars, lift vectors onto the fibre) -> ``layers`` blocks -> readout. The kernel
    bases (spatial ``[E, O, K]``, fibre ``[O, O, K]``) are computed once per forward pass and
    shared by all layers; each layer maps them linearly to its channels. The registered models
    ``r3``, ``r3s2``, ``se3``, ``r3s2-attention`` and their task variants are this class with
    other defaults (:mod:`regconv.models.r3s2` and its siblings).

    Components, each an instance or a spec ``{"kind": ..., **options}`` (``kind`` may be left
    out where the component has a default one; :mod:`regconv.utils.components`):

    - ``space``: a :class:`regconv.spaces.FibreSpace` (its invariants, fibre, lift and
      projection), e.g. ``{"kind": "r3s2", "num_orientations": 16}``
      (:data:`regconv.spaces.SPACES`).
    - ``basis``: the kernel bases, :class:`regconv.kernels.BasisSpec` (``dim``, ``degree``,
      ``radial`` Gaussians of the distance, ``length_scale`` of the invariants).
    - ``block``: each layer's convolution in its ConvNeXt block (``widening``,
      ``layer_scale``): ``"separable"`` (:class:`regconv.nn.SeparableGroupConv`), ``"full"``
      (:class:`regconv.nn.FullGroupConv`, the complete pair invariants; spaces with
      ``has_full_kernel``) or ``"attention"`` (:class:`regconv.nn.AttentionGroupConv` with
      ``heads`` heads, the cutoff envelope as an edge weight) (:data:`regconv.nn.BLOCKS`).
    - ``table``: None (the exact kernel) or :class:`regconv.kernels.TableSpec` (``step`` in the
      units of ``pos``, ``order``): the separable spatial kernel read from a table of its values,
      same parameters, several times faster; at most two kernel inputs besides the pair
      features of the distance (:class:`regconv.kernels.pair_features.DistanceFeature`), which
      the basis then evaluates at the table's nodes (appended after the other inputs).
    - ``readout``: :class:`regconv.nn.ReadoutSpec` (``pooling``, ``hidden``, ``all_layers``).
    - ``envelope``: the cutoff envelope multiplying every edge's kernel (and attention's edge
      weight), None for the cosine, or e.g. ``{"kind": "tapered", "tail": 0.5}``
      (:data:`regconv.kernels.ENVELOPES`: how smooth the energy is as neighbours cross the
      cutoff); none without a cutoff.
    - ``pair_features``: extra kernel inputs (:mod:`regconv.kernels.pair_features`), appended to
      the space's invariants in the order given; those that read node vectors need
      ``vector_in`` of them (checked here).

    ``self_loops`` adds the edge ``(i, i)`` (displacement 0) to every point: a point's own
    features then go through the convolution and are mixed across the fibre (PONITA's dense
    setting), not only through the residual and the pointwise MLP. ``cutoff``: the radius graph
    in the units of ``pos`` (None: fully connected graphs). Large radius graphs are renumbered
    for message passing by a :class:`regconv.graph.NodeOrder` (results equal up to round-off).

    Args:
        num_outputs: number of graph scalars (or node vectors) predicted.
        output: ``"graph"`` -> ``[B, k]`` invariants; ``"node_vector"`` -> ``[N, k, 3]``.
        in_features: 0 to embed ``batch.z`` (atomic numbers), else the width of ``batch.x``.
        vector_in: number of input vectors per node in ``batch.vec [N, V, 3]``.
        hidden: channels ``C``; layers: number of ConvNeXt blocks.
        cutoff: radius graph cutoff in the units of ``pos`` (None = fully connected graphs).
        max_z: largest atomic number the embedding knows.
        space, basis, block, table, readout, envelope, pair_features, self_loops: above.

    Shapes:
        batch (see :mod:`regconv.models.contract`) -> ``[B, k]`` or ``[N, k, 3]``.
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        *,
        space: FibreSpace | Spec,
        hidden: int = 128,
        layers: int = 5,
        cutoff: float | None = 5.0,
        self_loops: bool = False,
        basis: BasisSpec | Spec | None = None,
        block: BlockSpec | Spec | None = None,
        table: TableSpec | Spec | None = None,
        readout: ReadoutSpec | Spec | None = None,
        envelope: Envelope | Spec | None = None,
        pair_features: Sequence[PairFeature | Spec] | None = None,
        max_z: int = 9,
    ) -> None:
        super().__init__()
        set_contract(self, num_outputs, output, in_features, vector_in)
        self.space = space = build_space(space)
        self.basis, self.block = build_basis(basis), build_block(block)
        self.table = build_table(table)
        readout = build_readout(readout)
        check_int("hidden", hidden)
        check_int("layers", layers)
        self.cutoff = optional_positive("cutoff", cutoff)
        self.self_loops = check_bool("self_loops", self_loops)
        features = build_pair_features(pair_features)
        self.pair_features = nn.ModuleList(features)
        # A table holds the space's invariants: features of the distance go inside the basis,
        # which evaluates them at the table's nodes; the others are inputs of every edge.
        tabulated = self.table is not None
        in_basis = [f for f in features if tabulated and isinstance(f, DistanceFeature)]
        self.edge_features = tuple(f for f in features if f not in in_basis)
        extra = sum(f.size(space) for f in features)
        self._check(sum(f.size(space) for f in self.edge_features))

        self.embed = nn.Linear(in_features, hidden) if in_features else AtomEmbedding(hidden, max_z)
        comps = max(space.vector_components, 1)
        self.embed_vec = nn.Linear(vector_in * comps, hidden, bias=False) if vector_in else None
        self.envelope = build_envelope(envelope, self.cutoff)
        full = self.block.full_kernel
        inputs = (space.full_dim if full else space.spatial_dim) + extra
        self.spatial_basis = self.basis.spatial(inputs, space.spatial_dim, self.cutoff, in_basis)
        fibre = not full and space.fibre_dim > 0
        self.fibre_basis = self.basis.fibre(space.fibre_dim) if fibre else None
        k = self.basis.dim
        self.blocks = self.block.build(layers, hidden, k, k if fibre else 0)
        self.norm = nn.LayerNorm(hidden)
        self.layer_norms = readout.layer_norms(hidden, layers)
        self.readout = readout.head(
            output, channels=hidden, layers=layers, num_outputs=num_outputs, space=space,
            basis_dim=k, vector_in=vector_in,
        )  # fmt: skip

    def _check(self, extra: int) -> None:
        """``ValueError`` for components that do not fit together, naming the option to set."""
        space, block, table = self.space, self.block, self.table
        if block.full_kernel and not space.has_full_kernel:
            raise ValueError(f"block: {type(space).__name__} has no full kernel")
        for feature in self.pair_features:
            if feature.vectors > self.vector_in:
                raise ValueError(
                    f"pair_features: {type(feature).__name__} reads node vector "
                    f"{feature.vectors - 1} (batch.vec); set vector_in >= {feature.vectors} "
                    f"(got vector_in={self.vector_in})"
                )
        if table is None:
            return
        if not block.tabulates:
            raise ValueError(
                f"table needs the separable block, got {type(block).__name__} "
                "(table=None: the exact kernel)"
            )
        if space.spatial_dim + extra > table.max_inputs:
            raise ValueError(
                f"table tabulates kernels of at most {table.max_inputs} inputs; "
                f"{type(space).__name__} has {space.spatial_dim} invariants and the pair features "
                f"add {extra} besides those of the distance (table=None: the exact kernel)"
            )

    # -- kernel inputs -------------------------------------------------------------------------
    def pair_invariants(self, pairs: PairGeometry) -> Tensor:
        """The kernel's inputs per edge: the space's invariants of ``x_ij``, then each pair
        feature's (with a table, those of the distance are the basis's own inputs).

        Shapes:
            -> ``[E, O, D]`` (separable, attention) or ``[E, O, O, D]`` (full).
        """
        if self.block.full_kernel:
            invariants = self.space.full_invariants(pairs.x_ij)  # [E, O, O, D]
        else:
            invariants = self.space.spatial_invariants(pairs.x_ij)  # [E, O, D]
        if not self.edge_features:
            return invariants
        parts = [invariants]
        for feature in self.edge_features:
            f = feature(pairs, self.space)  # [E, S] or [E, O, S]
            while f.dim() < invariants.dim():
                f = f.unsqueeze(f.dim() - 1)  # [E, 1.., S] or [E, O, 1, S]
            parts.append(f.expand(*invariants.shape[:-1], f.shape[-1]))
        return torch.cat(parts, dim=-1)

    def _envelope(self, x_ij: Tensor) -> Tensor | None:
        if self.envelope is None:
            return None
        return self.envelope(torch.linalg.vector_norm(x_ij, dim=-1) * self.basis.length_scale)

    def kernel_bases(self, pairs: PairGeometry) -> tuple[Tensor | TabulatedBasis, Tensor | None]:
        """The spatial kernel basis (dense ``[E, O, K]`` / ``[E, O, O, K]``, or tabulated) with the
        cutoff envelope applied, and the envelope ``[E]`` where attention takes it as an edge
        weight. The invariants are computed in float32 under ``torch.autocast`` (a grid or a
        table cut in the invariants needs them to more than bfloat16's three digits)."""
        with torch.autocast(pairs.x_ij.device.type, enabled=False):
            invariants = self.pair_invariants(pairs)  # [E, O, D] or [E, O, O, D]
            env = self._envelope(pairs.x_ij)  # [E] or None
        if self.table is not None:
            src, dst = pairs.edge_index[0], pairs.edge_index[1]
            scale = self.basis.length_scale
            return self.table.tabulate(self.spatial_basis, invariants, src, dst, env, scale), None
        basis = self.spatial_basis(invariants)  # [E, O, K] or [E, O, O, K]
        if env is None:
            return basis, None
        basis = basis * env.view((-1,) + (1,) * (basis.dim() - 1))
        return basis, env if self.block.edge_weight else None

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, batch) -> Tensor:
        check_batch(batch, self.in_features, self.vector_in)
        bvec, num_graphs = batch_vector(batch)
        order = NodeOrder.for_graph(batch.pos, bvec, self.cutoff)
        pos = order.apply(batch.pos)  # [N, 3], message-passing order
        edge_index, x_ij, _ = batch_edges(batch, pos, order.apply(bvec), self.cutoff,
                                          self.self_loops)  # fmt: skip
        scale = self.basis.length_scale
        x_ij = x_ij / scale  # [E, 3]
        vec = getattr(batch, "vec", None) if self.vector_in else None
        moved_vec = None if vec is None else order.apply(vec)
        pairs = PairGeometry(edge_index, x_ij, scale, moved_vec)
        basis, edge_weight = self.kernel_bases(pairs)
        fibre = None  # [O, O, K_f]
        if self.fibre_basis is not None:
            fibre = self.fibre_basis(self.space.fibre_invariants())

        scalars = self.embed(batch.x if self.in_features else batch.z)  # [N, C]
        h = scalars.unsqueeze(1).expand(-1, self.space.num_fibre, -1)  # [N, O, C]
        if self.embed_vec is not None:
            h = h + self.embed_vec(self.space.lift_vectors(batch.vec))  # [N, O, C]
        h = order.apply(h)
        per_layer = []
        for i, block in enumerate(self.blocks):
            h = block(h, edge_index, basis, fibre, edge_weight)
            if self.layer_norms is not None and i < len(self.layer_norms):
                per_layer.append(self.layer_norms[i](h))  # [N, O, C]
        h = self.norm(h)
        if per_layer:
            h = torch.cat(per_layer + [h], dim=-1)  # [N, O, L*C]
        h = order.restore(h)  # input node order
        if self.output == "graph":
            return self.readout(h, bvec, num_graphs)  # [B, k]
        if isinstance(basis, TabulatedBasis):
            basis = basis.dense()  # [E, O, K] interpolated, for readouts that use the basis
        pairs = PairGeometry(order.restore_edges(edge_index), x_ij, scale, vec)
        return self.readout(h, pairs, basis, self.space)  # [N, k, 3]
