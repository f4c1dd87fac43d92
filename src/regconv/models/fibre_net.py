"""The generic node model of the regular GNNs: ConvNeXt blocks of group convolutions on a
:class:`regconv.spaces.FibreSpace` (R^3, R^3 x S^2 with a grid fibre, SE(3))."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from regconv.graph import NodeOrder
from regconv.kernels import CosineCutoff, KernelBasis, TabulatedBasis, tabulate
from regconv.kernels.pair_features import PairFeature, PairGeometry, build_pair_features
from regconv.kernels.table import ORDERS
from regconv.models.contract import Output, batch_vector, build_graph, check_batch, check_contract
from regconv.nn import (
    AtomEmbedding,
    AttentionGroupConv,
    ConvNeXtBlock,
    EdgeVectorReadout,
    FibreVectorReadout,
    FullGroupConv,
    GraphScalarReadout,
    SeparableGroupConv,
)
from regconv.spaces import FibreSpace
from regconv.utils.checks import check_bool, check_choice, check_int, optional_positive

__all__ = ["FibreNet", "Kernel"]

Kernel = Literal["separable", "full", "attention"]


class FibreNet(nn.Module):
    r"""A stack of ConvNeXt blocks of regular group convolutions on a space with a fibre.

    Lift (embed scalars, lift vectors onto the fibre) -> ``layers`` blocks -> readout. The kernel
    bases (spatial ``[E, O, K]``, fibre ``[O, O, K]``) are computed once per forward pass and
    shared by all layers; each layer maps them linearly to its channels. The model has no
    defaults: its registered subclasses (:class:`regconv.models.R3Net`,
    :class:`regconv.models.R3S2Net`, :class:`regconv.models.SE3Net`,
    :class:`regconv.models.R3S2AttentionNet`) fix the space and hold the defaults.

    Components:

    - ``space``: a :class:`regconv.spaces.FibreSpace` (its invariants, fibre, lift and projection).
    - ``kernel``: ``"separable"`` (:class:`regconv.nn.SeparableGroupConv`), ``"full"``
      (:class:`regconv.nn.FullGroupConv`, the complete pair invariants; spaces with
      ``has_full_kernel``) or ``"attention"`` (:class:`regconv.nn.AttentionGroupConv` with
      ``heads`` heads, same bases as separable, and the cutoff envelope as an edge weight).
    - ``pair_features``: extra kernel inputs (:mod:`regconv.kernels.pair_features`), modules or
      specs ``{"kind": ..., ...}``, appended to the space's invariants in the order given.
    - readout: :class:`regconv.nn.GraphScalarReadout` (``pooling`` ``"sum"`` or ``"mean"``) for
      graph outputs; node vectors by projection from the fibre
      (:class:`regconv.nn.FibreVectorReadout`) or, on a fibre that holds no vector (R^3), from
      the edge vectors (:class:`regconv.nn.EdgeVectorReadout`). ``readout_all_layers`` reads every
      block's output (each through its own LayerNorm, concatenated), not only the last.

    ``table_step`` (a length in the units of ``pos``, or None) replaces the exact spatial kernel
    of a separable kernel by its interpolant on a grid of that step over the invariants
    (:class:`regconv.kernels.TabulatedBasis`): same parameters and ``state_dict``, several times
    faster; at most two kernel inputs. ``table_order="linear"``: bilinear, kernel error
    ``O(step^2)``, forces piecewise constant; ``"quadratic"`` (the quadratic B-spline
    quasi-interpolant, 3 nodes per invariant) and ``"cubic"`` (Catmull-Rom, 4 nodes): error
    ``O(step^3)``, C¹, so forces are continuous (energy + force training and MD).

    ``self_loops`` adds the edge ``(i, i)`` (displacement 0) to every point: a point's own
    features then go through the convolution and are mixed across the fibre (PONITA's dense
    setting), not only through the residual and the pointwise MLP.

    Initialisation and readout: ``basis_rbf = R > 0`` adds ``R`` Gaussians of each invariant
    to the polynomial features of both kernel bases (:class:`regconv.kernels.KernelBasis`);
    ``basis_radial = R > 0`` adds ``R`` Gaussians of the pair distance ``|x_ij|`` (the norm of
    the space's spatial invariants) over the reach of the graph to those of the spatial basis;
    ``conv_gain`` is a fixed factor on every separable convolution's message sum, before its bias;
    ``embedding_std`` the initial spread of the atom embedding; ``final_norm=False`` drops the
    LayerNorm before the readout; ``readout_hidden = H > 0`` reads each (atom, orientation)
    through a SiLU MLP of width ``H`` (:class:`regconv.nn.GraphScalarReadout`).

    Large radius graphs are renumbered for message passing by a :class:`regconv.graph.NodeOrder`
    (results equal up to round-off).

    Shapes:
        batch (see :mod:`regconv.models.contract`) -> ``[B, k]`` or ``[N, k, 3]``.
    """

    def __init__(
        self,
        num_outputs: int,
        output: Output,
        in_features: int,
        vector_in: int,
        *,
        space: FibreSpace,
        hidden: int,
        layers: int,
        basis_dim: int,
        degree: int,
        cutoff: float | None,
        length_scale: float,
        widening: int,
        layer_scale: float | None,
        kernel: Kernel,
        heads: int | None,
        max_z: int,
        table_step: float | None,
        table_order: str = "linear",
        self_loops: bool,
        readout_all_layers: bool,
        pooling: str,
        pair_features: Sequence[PairFeature | Mapping[str, Any]] | None,
        basis_rbf: int = 0,
        conv_gain: float = 1.0,
        embedding_std: float = 1.0,
        final_norm: bool = True,
        readout_hidden: int = 0,
        basis_radial: int = 0,
    ) -> None:
        super().__init__()
        check_contract(num_outputs, output, in_features, vector_in)
        if not isinstance(space, FibreSpace):
            raise ValueError(f"space must be a FibreSpace, got {type(space).__name__}")
        check_choice("kernel", kernel, ("separable", "full", "attention"))
        if kernel == "full" and not space.has_full_kernel:
            raise ValueError(f"{type(space).__name__} has no full kernel")
        if (kernel == "attention") != (heads is not None):
            raise ValueError("heads is set for kernel='attention' and only for it")
        for name, value in (("hidden", hidden), ("layers", layers), ("basis_dim", basis_dim)):
            check_int(name, value)
        self.cutoff = optional_positive("cutoff", cutoff)
        self.self_loops = check_bool("self_loops", self_loops)
        check_bool("readout_all_layers", readout_all_layers)
        if pooling != "sum" and output != "graph":  # values: checked by GraphScalarReadout
            raise ValueError("pooling applies to output='graph' only")
        self.pair_features = nn.ModuleList(build_pair_features(pair_features))
        extra = sum(f.size(space) for f in self.pair_features)
        self.table_step = optional_positive("table_step", table_step)
        check_choice("table_order", table_order, ORDERS)
        self.table_order = table_order
        if self.table_step is not None:
            if kernel != "separable":
                raise ValueError(
                    f"table_step needs the separable kernel, got kernel={kernel!r} "
                    "(table_step=None: the exact kernel)"
                )
            if space.spatial_dim + extra > 2:
                raise ValueError(
                    f"table_step tabulates kernels of at most 2 inputs; {type(space).__name__} "
                    f"has {space.spatial_dim} invariants and the pair features add {extra} "
                    "(table_step=None: the exact kernel)"
                )
        self.space = space
        self.num_outputs = num_outputs
        self.output = output
        self.in_features = in_features
        self.vector_in = vector_in
        self.length_scale = float(length_scale)
        self.kernel = kernel
        check_int("basis_rbf", basis_rbf, minimum=0)
        check_int("basis_radial", basis_radial, minimum=0)
        check_int("readout_hidden", readout_hidden, minimum=0)
        check_bool("final_norm", final_norm)
        if conv_gain != 1.0 and kernel != "separable":
            raise ValueError(f"conv_gain needs the separable kernel, got kernel={kernel!r}")
        if readout_hidden and output != "graph":
            raise ValueError("readout_hidden applies to output='graph' only")

        if in_features > 0:
            if embedding_std != 1.0:
                raise ValueError("embedding_std applies to the atom embedding (in_features=0)")
            self.embed = nn.Linear(in_features, hidden)
        else:
            self.embed = AtomEmbedding(hidden, max_z, init_std=embedding_std)
        comps = max(space.vector_components, 1)
        self.embed_vec = nn.Linear(vector_in * comps, hidden, bias=False) if vector_in else None
        self.envelope = CosineCutoff(self.cutoff) if self.cutoff is not None else None

        # Gaussians of the (length-scaled) invariants over the reach of the graph (the cutoff, or
        # 10 units of pos for full graphs: most of QM9's molecules in Å); the fibre's invariants
        # (cosines) lie in [-1, 1].
        reach = (self.cutoff if self.cutoff is not None else 10.0) / self.length_scale
        # the distance Gaussians read the norm of the leading spatial invariants (|x_ij|)
        rbf = {"rbf": basis_rbf, "rbf_range": reach}
        radial = {"radial": basis_radial, "radial_dims": space.spatial_dim}
        if kernel == "full":
            self.spatial_basis = KernelBasis(
                space.full_dim + extra, basis_dim, degree, **rbf, **radial
            )
            self.fibre_basis = None
            convs = [FullGroupConv(hidden, basis_dim) for _ in range(layers)]
        else:
            self.spatial_basis = KernelBasis(
                space.spatial_dim + extra, basis_dim, degree, **rbf, **radial
            )
            fibre = space.fibre_dim > 0
            self.fibre_basis = None
            if fibre:
                self.fibre_basis = KernelBasis(
                    space.fibre_dim, basis_dim, degree, rbf=basis_rbf, rbf_range=1.0
                )
            fdim = basis_dim if fibre else 0
            if kernel == "attention":
                convs = [AttentionGroupConv(hidden, basis_dim, fdim, heads) for _ in range(layers)]
            else:
                convs = [
                    SeparableGroupConv(hidden, basis_dim, fdim, gain=conv_gain)
                    for _ in range(layers)
                ]
        self.blocks = nn.ModuleList(ConvNeXtBlock(c, hidden, widening, layer_scale) for c in convs)
        self.norm = nn.LayerNorm(hidden) if final_norm else nn.Identity()
        self.layer_norms = None
        if readout_all_layers:
            self.layer_norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers - 1))
        width = hidden * layers if readout_all_layers else hidden
        if output == "graph":
            self.readout = GraphScalarReadout(width, num_outputs, pooling, readout_hidden)
        elif space.vector_components == 0:
            self.readout = EdgeVectorReadout(width, basis_dim, num_outputs, vector_in)
        else:
            self.readout = FibreVectorReadout(width, num_outputs, space.vector_components)

    # -- kernel inputs -------------------------------------------------------------------------
    def pair_invariants(self, pairs: PairGeometry) -> Tensor:
        """The kernel's inputs: the space's invariants of ``x_ij``, then each pair feature's.

        Shapes:
            -> ``[E, O, D]`` (separable, attention) or ``[E, O, O, D]`` (full).
        """
        if self.kernel == "full":
            invariants = self.space.full_invariants(pairs.x_ij)  # [E, O, O, D]
        else:
            invariants = self.space.spatial_invariants(pairs.x_ij)  # [E, O, D]
        if len(self.pair_features) == 0:
            return invariants
        parts = [invariants]
        for feature in self.pair_features:
            f = feature(pairs, self.space)  # [E, S] or [E, O, S]
            while f.dim() < invariants.dim():
                f = f.unsqueeze(f.dim() - 1)  # [E, 1.., S] or [E, O, 1, S]
            parts.append(f.expand(*invariants.shape[:-1], f.shape[-1]))
        return torch.cat(parts, dim=-1)

    def _envelope(self, x_ij: Tensor) -> Tensor | None:
        if self.envelope is None:
            return None
        return self.envelope(torch.linalg.vector_norm(x_ij, dim=-1) * self.length_scale)  # [E]

    def kernel_bases(self, pairs: PairGeometry) -> tuple[Tensor | TabulatedBasis, Tensor | None]:
        """The spatial kernel basis (dense ``[E, O, K]`` / ``[E, O, O, K]``, or tabulated) with the
        cutoff envelope applied, and the envelope ``[E]`` where attention takes it as an edge
        weight."""
        invariants = self.pair_invariants(pairs)
        env = self._envelope(pairs.x_ij)
        if self.table_step is not None:
            src, dst = pairs.edge_index[0], pairs.edge_index[1]
            step = self.table_step / self.length_scale
            basis = tabulate(
                self.spatial_basis, invariants, step, src, dst, env, order=self.table_order
            )
            return basis, None
        basis = self.spatial_basis(invariants)  # [E, O, K] or [E, O, O, K]
        if env is None:
            return basis, None
        basis = basis * env.view((-1,) + (1,) * (basis.dim() - 1))
        return basis, env if self.kernel == "attention" else None

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, batch) -> Tensor:
        check_batch(batch, self.in_features, self.vector_in)
        bvec, num_graphs = batch_vector(batch)
        order = NodeOrder.for_graph(batch.pos, bvec, self.cutoff)
        pos = order.apply(batch.pos)  # [N, 3], message-passing order
        edge_index = build_graph(pos, order.apply(bvec), self.cutoff, self.self_loops)
        src, dst = edge_index[0], edge_index[1]
        x_ij = (pos.index_select(0, src) - pos.index_select(0, dst)) / self.length_scale  # [E, 3]
        vec = getattr(batch, "vec", None) if self.vector_in else None
        moved_vec = None if vec is None else order.apply(vec)
        pairs = PairGeometry(edge_index, x_ij, self.length_scale, moved_vec)
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
        pairs = PairGeometry(order.restore_edges(edge_index), x_ij, self.length_scale, vec)
        return self.readout(h, pairs, basis, self.space)  # [N, k, 3]
