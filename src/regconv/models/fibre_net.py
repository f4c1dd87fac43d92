"""Shared machinery of the node-based regular GNNs (R3, R3S2 grid fibre, SE3)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from regconv.graph import full_graph, radius_graph, spatial_order
from regconv.nn import (
    AtomEmbedding,
    ConvNeXtBlock,
    CosineCutoff,
    FullGroupConv,
    GraphScalarReadout,
    KernelBasis,
    SeparableGroupConv,
    TabulatedBasis,
    tabulate,
)

Output = Literal["graph", "node_vector"]

#: radius graphs with at least this many nodes are processed in Z-order (see ``spatial_order``)
SPATIAL_ORDER_MIN_NODES = 4096


def check_batch(batch, in_features: int, vector_in: int) -> None:
    """Raise ``ValueError`` if the PyG batch lacks what the model contract needs."""
    pos = getattr(batch, "pos", None)
    if pos is None or pos.dim() != 2 or pos.shape[-1] != 3:
        raise ValueError("batch.pos must be a [N, 3] tensor of positions")
    if not bool(torch.isfinite(pos).all()):
        raise ValueError("batch.pos contains NaN or Inf coordinates")
    if in_features == 0 and getattr(batch, "z", None) is None:
        raise ValueError("this model embeds atomic numbers: the batch needs z [N]")
    if in_features > 0:
        x = getattr(batch, "x", None)
        if x is None or x.dim() != 2 or x.shape[1] != in_features:
            raise ValueError(f"this model needs scalar features x of shape [N, {in_features}]")
    if vector_in > 0:
        vec = getattr(batch, "vec", None)
        if vec is None or tuple(vec.shape[1:]) != (vector_in, 3):
            raise ValueError(f"this model needs vector features vec of shape [N, {vector_in}, 3]")


def batch_vector(batch) -> tuple[Tensor, int]:
    """The node-to-graph vector and the number of graphs (a single graph if absent)."""
    b = getattr(batch, "batch", None)
    if b is None:
        return torch.zeros(batch.pos.shape[0], dtype=torch.long, device=batch.pos.device), 1
    num_graphs = getattr(batch, "num_graphs", None)
    return b, int(num_graphs) if num_graphs is not None else int(b.max()) + 1 if b.numel() else 0


def _positive(value) -> bool:
    """True for a finite number > 0 (not a bool)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and 0 < value < float("inf")


def build_graph(pos: Tensor, batch: Tensor, cutoff: float | None, loop: bool = False) -> Tensor:
    """Radius graph within ``cutoff`` (inclusive) or, when ``cutoff`` is None, the full graph;
    with the self-loops ``(i, i)`` when ``loop``."""
    if cutoff is None:
        return full_graph(batch, loop=loop)
    return radius_graph(pos, cutoff, batch, loop=loop)


class FibreNet(nn.Module):
    r"""A stack of ConvNeXt blocks of regular group convolutions on a node space with a fibre.

    Lift (embed scalars, lift vectors onto the fibre) -> ``layers`` blocks -> readout. The kernel
    bases (spatial ``[E, O, K]``, fibre ``[O, O, K]``) are computed once per forward pass and
    shared by all layers; each layer maps them linearly to its channels.

    ``kernel`` is ``"separable"`` (:class:`regconv.nn.SeparableGroupConv`), ``"full"``
    (:class:`regconv.nn.FullGroupConv`) or ``"attention"``
    (:class:`regconv.nn.attention_conv.AttentionGroupConv` with ``heads`` heads, same bases as
    separable; it also receives the cutoff envelope as an edge weight).

    ``table_step`` (a length in the units of ``pos``, or None) replaces the exact spatial kernel
    of a separable kernel by its bilinear interpolant on a grid of that step over the invariants
    (:class:`regconv.nn.TabulatedBasis`): same parameters and ``state_dict``, several times
    faster and lighter, kernel error ``O(step^2)``. None (the default) evaluates it exactly.

    ``vector_skip`` (node-vector outputs with vector inputs only) adds ``W vec`` to the output
    vectors: a learned linear combination of the input vectors with scalar weights ``W [k, V]``
    (equivariant; zero at initialisation): ``pos + t * vel`` is then one weight away. On the
    charged N-body task it made no measurable difference (the velocity lifted onto the fibre is
    learned through just as fast), so the shipped configs leave it off.

    ``self_loops`` adds the edge ``(i, i)`` (displacement 0) to every point. Without it a point's
    own features reach its new features only through the residual and the pointwise MLP, so on
    a fibre they are never mixed across orientations: the point cannot, for instance, form the
    norm of its own lifted velocity. With it the self-edge is convolved like any other (spatial
    kernel at ``x_ij = 0``, then over the sphere), as in PONITA's dense N-body setting.

    ``readout_all_layers`` reads the output from every block, not only the last: the blocks'
    outputs, each through its own LayerNorm, are concatenated along channels before the (linear)
    readout, i.e. the prediction is a sum of one linear readout per block (PONITA's N-body and
    QM9 models average per-layer readouts the same way). ``pooling`` (graph outputs) is ``"sum"``
    over atoms (extensive targets) or ``"mean"`` (intensive ones); see
    :class:`regconv.nn.GraphScalarReadout`.

    ``radial_scales`` (a list of lengths ``d``, or None) appends ``d^2 / (r^2 + d^2)`` of the pair
    distance ``r`` for each ``d`` to the spatial invariants the kernel basis sees: bounded
    (1 at ``r = 0``, so self-loops are fine), inverse-square for ``r >> d``. Polynomial features
    of the invariants cannot follow a ``1/r^2`` force into close encounters; these can.
    ``approach_horizon`` (a time ``T``, with ``radial_scales`` and vector inputs) reads the first
    vector input as a velocity and adds the same features of the closest approach of the pair
    moving on straight lines within ``T``: ``r_c = min_{0<=t<=T} |x_ij + t v_ij|`` with
    ``v_ij = v_j - v_i`` — invariant under E(3) and Galilean boosts; it tells the kernel which
    pairs are about to meet. ``approach_invariants`` also gives the kernel where the pair is
    heading: the space's spatial invariants (on R^3 x S^2 ``n_i . y`` and ``|y ⊥ n_i|``) of the
    straight-line relative position at the horizon, ``y = x_ij + T v_ij`` (E(3)- and
    Galilean-invariant like ``r_c``; it enters the polynomial features with the others).

    Subclasses fix the space; see :class:`regconv.models.R3Net`, :class:`regconv.models.R3S2Net`
    and :class:`regconv.models.SE3Net` for the arguments.
    """

    def __init__(
        self,
        space: nn.Module,
        *,
        num_outputs: int,
        output: Output,
        in_features: int,
        vector_in: int,
        hidden: int,
        layers: int,
        basis_dim: int,
        degree: int,
        cutoff: float | None,
        length_scale: float,
        widening: int,
        layer_scale: float | None,
        kernel: Literal["separable", "full", "attention"],
        max_z: int,
        heads: int = 4,
        table_step: float | None = None,
        vector_skip: bool = False,
        self_loops: bool = False,
        readout_all_layers: bool = False,
        pooling: str = "sum",
        radial_scales: list[float] | tuple[float, ...] | None = None,
        approach_horizon: float | None = None,
        approach_invariants: bool = False,
    ) -> None:
        super().__init__()
        if radial_scales is not None:
            listed = isinstance(radial_scales, (list, tuple)) and len(radial_scales) > 0
            if not (listed and all(map(_positive, radial_scales))):
                raise ValueError(
                    "radial_scales must be a non-empty list of positive lengths, "
                    f"got {radial_scales!r}"
                )
            if table_step is not None:
                raise ValueError("radial_scales cannot be combined with table_step")
        self.radial_scales = None if radial_scales is None else tuple(map(float, radial_scales))
        extra = 0 if radial_scales is None else len(radial_scales)
        if approach_horizon is not None:
            if not _positive(approach_horizon):
                raise ValueError(f"approach_horizon must be a time > 0, got {approach_horizon!r}")
            if radial_scales is None or vector_in < 1:
                raise ValueError("approach_horizon needs radial_scales and vector inputs")
            extra *= 2
        self.approach_horizon = None if approach_horizon is None else float(approach_horizon)
        if not isinstance(approach_invariants, bool):
            raise ValueError(f"approach_invariants must be a bool, got {approach_invariants!r}")
        if approach_invariants:
            if approach_horizon is None:
                raise ValueError("approach_invariants needs approach_horizon")
            extra += space.spatial_dim
        self.approach_invariants = approach_invariants
        if not isinstance(self_loops, bool):
            raise ValueError(f"self_loops must be a bool, got {self_loops!r}")
        if not isinstance(readout_all_layers, bool):
            raise ValueError(f"readout_all_layers must be a bool, got {readout_all_layers!r}")
        if pooling != "sum" and output != "graph":  # values: checked by GraphScalarReadout
            raise ValueError("pooling applies to output='graph' only")
        if vector_skip and (output != "node_vector" or vector_in == 0):
            raise ValueError("vector_skip needs output='node_vector' and vector inputs (vector_in > 0)")
        if table_step is not None:
            if not _positive(table_step):
                raise ValueError(f"table_step must be a positive length or None, got {table_step!r}")
            if kernel != "separable":
                raise ValueError(f"table_step needs the separable kernel, got kernel={kernel!r}")
            if space.spatial_dim > 2:
                raise ValueError(
                    f"table_step tabulates kernels of at most 2 invariants; "
                    f"{type(space).__name__} has {space.spatial_dim}"
                )
        self.table_step = None if table_step is None else float(table_step)
        if output not in ("graph", "node_vector"):
            raise ValueError(f"output must be 'graph' or 'node_vector', got {output!r}")
        if kernel not in ("separable", "full", "attention"):
            raise ValueError(f"kernel must be 'separable', 'full' or 'attention', got {kernel!r}")
        if kernel == "full" and not hasattr(space, "full_invariants"):
            raise ValueError(f"{type(space).__name__} has no full kernel")
        for name, value in (("num_outputs", num_outputs), ("hidden", hidden), ("layers", layers), ("basis_dim", basis_dim)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if cutoff is not None and not cutoff > 0:
            raise ValueError(f"cutoff must be positive or None (full graph), got {cutoff}")
        self.space = space
        self.num_outputs = num_outputs
        self.output = output
        self.in_features = in_features
        self.vector_in = vector_in
        self.cutoff = cutoff
        self.self_loops = self_loops
        self.length_scale = float(length_scale)
        self.kernel = kernel

        if in_features > 0:
            self.embed = nn.Linear(in_features, hidden)
        else:
            self.embed = AtomEmbedding(hidden, max_z)
        self.embed_vec = self._vector_lift_layer(vector_in, hidden)
        self.envelope = CosineCutoff(cutoff) if cutoff is not None else None

        if kernel == "full":
            self.spatial_basis = KernelBasis(space.full_dim + extra, basis_dim, degree)
            self.fibre_basis = None
            convs = [FullGroupConv(hidden, basis_dim) for _ in range(layers)]
        else:
            self.spatial_basis = KernelBasis(space.spatial_dim + extra, basis_dim, degree)
            self.fibre_basis = KernelBasis(space.fibre_dim, basis_dim, degree) if space.fibre_dim else None
            fdim = basis_dim if space.fibre_dim else 0
            if kernel == "attention":
                from regconv.nn.attention_conv import AttentionGroupConv

                convs = [AttentionGroupConv(hidden, basis_dim, fdim, heads) for _ in range(layers)]
            else:
                convs = [SeparableGroupConv(hidden, basis_dim, fdim) for _ in range(layers)]
        self.blocks = nn.ModuleList(ConvNeXtBlock(c, hidden, widening, layer_scale) for c in convs)
        self.norm = nn.LayerNorm(hidden)
        # readout of every block's output (each through its own LayerNorm), not only the last
        self.layer_norms = None
        if readout_all_layers:
            self.layer_norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers - 1))
        width = hidden * layers if readout_all_layers else hidden
        if output == "graph":
            self.readout = GraphScalarReadout(width, num_outputs, pooling)
        else:
            self.readout = self._vector_readout_layer(width, num_outputs)
        # a linear map of the input vectors added to the vector outputs (zero at initialisation)
        self.vector_skip = nn.Linear(vector_in, num_outputs, bias=False) if vector_skip else None
        if self.vector_skip is not None:
            nn.init.zeros_(self.vector_skip.weight)

    # -- hooks a space-specific subclass may override ------------------------------------------
    def _vector_lift_layer(self, vector_in: int, hidden: int) -> nn.Module | None:
        if vector_in == 0:
            return None
        comps = max(self.space.vector_components, 1)
        return nn.Linear(vector_in * comps, hidden, bias=False)

    def _vector_readout_layer(self, hidden: int, num_outputs: int) -> nn.Module:
        from regconv.nn import FibreVectorReadout

        return FibreVectorReadout(hidden, num_outputs, self.space.vector_components)

    def _vector_output(self, h: Tensor, batch, edge_index: Tensor, x_ij: Tensor, basis: Tensor) -> Tensor:
        return self.readout(h, self.space.project_vectors)

    def _with_radial(self, invariants: Tensor, x_ij: Tensor, v_ij: Tensor | None = None) -> Tensor:
        """Append ``d^2 / (r^2 + d^2)`` for each of ``radial_scales`` (``r = |x_ij|`` in the
        units of ``pos``) to the pair invariants ``[E, ..., D]`` -> ``[E, ..., D + S]``; with
        ``approach_horizon`` also those of the closest approach ``r_c``: ``[E, ..., D + 2S]``; with
        ``approach_invariants`` also the spatial invariants of the relative position at the
        horizon (``D_s`` of them, placed after the first ``D``): ``[E, ..., D + D_s + 2S]``."""
        if self.radial_scales is None:
            return invariants
        x = x_ij * self.length_scale  # [E, 3]
        d2 = torch.tensor(self.radial_scales, dtype=x_ij.dtype, device=x_ij.device).square()  # [S]
        feats = d2 / (x.square().sum(-1, keepdim=True) + d2)  # [E, S]
        if self.approach_horizon is not None:
            # closest distance on straight lines within the horizon: x + t v, t in [0, T]
            speed2 = v_ij.square().sum(-1, keepdim=True)  # [E, 1]
            t = -(x * v_ij).sum(-1, keepdim=True) / speed2.clamp_min(1e-12)
            t = t.clamp(0.0, self.approach_horizon)  # [E, 1]
            rc2 = (x + t * v_ij).square().sum(-1, keepdim=True)  # [E, 1]
            feats = torch.cat([feats, d2 / (rc2 + d2)], dim=-1)  # [E, 2S]
        shape = (feats.shape[0],) + (1,) * (invariants.dim() - 2) + (feats.shape[1],)
        feats = feats.view(shape).expand(*invariants.shape[:-1], feats.shape[1])
        parts = [invariants, feats]
        if self.approach_invariants:  # the relative position at the horizon, seen from n_i
            y = x_ij + self.approach_horizon * v_ij / self.length_scale  # [E, 3]
            y_inv = self.space.spatial_invariants(y)  # [E, O, D]
            if invariants.dim() == 4:  # full kernel [E, O, O, D']: the same for every n_j
                y_inv = y_inv.unsqueeze(2).expand(-1, -1, invariants.shape[2], -1)
            parts.insert(1, y_inv)
        return torch.cat(parts, dim=-1)

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, batch) -> Tensor:
        check_batch(batch, self.in_features, self.vector_in)
        pos = batch.pos
        bvec, num_graphs = batch_vector(batch)
        # Large radius graphs: message passing on the nodes renumbered along a Z-order curve
        # (neighbours at nearby rows, cache-friendly gathers); results equal up to round-off.
        order = None
        if self.cutoff is not None and pos.shape[0] >= SPATIAL_ORDER_MIN_NODES:
            order = spatial_order(pos, bvec, self.cutoff)  # new position -> node id
            pos = pos.index_select(0, order)
        edge_index = build_graph(
            pos, bvec if order is None else bvec.index_select(0, order), self.cutoff, self.self_loops
        )
        src, dst = edge_index[0], edge_index[1]
        x_ij = (pos.index_select(0, src) - pos.index_select(0, dst)) / self.length_scale  # [E, 3]
        v_ij = None
        if self.approach_horizon is not None:
            vel = batch.vec[:, 0] if order is None else batch.vec[:, 0].index_select(0, order)
            v_ij = vel.index_select(0, src) - vel.index_select(0, dst)  # [E, 3]

        if self.kernel == "full":
            invariants = self.space.full_invariants(x_ij)  # [E, O, O, D]
            invariants = self._with_radial(invariants, x_ij, v_ij)
            basis = self.spatial_basis(invariants)  # [E, O, O, K]
        else:
            invariants = self.space.spatial_invariants(x_ij)  # [E, O, D]
            invariants = self._with_radial(invariants, x_ij, v_ij)
            if self.table_step is not None:
                env = None
                if self.envelope is not None:
                    dist = torch.linalg.vector_norm(x_ij, dim=-1) * self.length_scale  # [E]
                    env = self.envelope(dist)
                step = self.table_step / self.length_scale
                basis = tabulate(self.spatial_basis, invariants, step, src, dst, env)
            else:
                basis = self.spatial_basis(invariants)  # [E, O, K]
        edge_weight = None  # passed to the blocks only by attention (normalisation over edges)
        if self.envelope is not None and not isinstance(basis, TabulatedBasis):
            env = self.envelope(torch.linalg.vector_norm(x_ij, dim=-1) * self.length_scale)  # [E]
            basis = basis * env.view((-1,) + (1,) * (basis.dim() - 1))
            if self.kernel == "attention":
                edge_weight = env
        fibre = self.fibre_basis(self.space.fibre_invariants()) if self.fibre_basis is not None else None

        scalars = self.embed(batch.x if self.in_features else batch.z)  # [N, C]
        h = scalars.unsqueeze(1).expand(-1, self.space.num_fibre, -1)  # [N, O, C]
        if self.embed_vec is not None:
            h = h + self.embed_vec(self.space.lift_vectors(batch.vec))  # [N, O, C]
        if order is not None:
            h = h.index_select(0, order)
        per_layer = []
        for i, block in enumerate(self.blocks):
            if edge_weight is None:
                h = block(h, edge_index, basis, fibre)
            else:
                h = block(h, edge_index, basis, fibre, edge_weight)
            if self.layer_norms is not None and i < len(self.layer_norms):
                per_layer.append(self.layer_norms[i](h))  # [N, O, C]
        h = self.norm(h)
        if per_layer:
            h = torch.cat(per_layer + [h], dim=-1)  # [N, O, L*C]
        if order is not None:  # back to the input's node order and labels
            h = h.index_select(0, torch.argsort(order))
            edge_index = order[edge_index]
        if self.output == "graph":
            return self.readout(h, bvec, num_graphs)  # [B, k]
        if isinstance(basis, TabulatedBasis):
            basis = basis.dense()  # [E, O, K] interpolated, for readouts that use the basis
        out = self._vector_output(h, batch, edge_index, x_ij, basis)  # [N, k, 3]
        if self.vector_skip is not None:
            out = out + torch.einsum("nvd,kv->nkd", batch.vec, self.vector_skip.weight)
        return out
