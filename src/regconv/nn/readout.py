"""Readouts: graph-level invariant scalars and node-level equivariant vectors."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regconv.ops import scatter_softmax, scatter_sum

#: ways of pooling the atoms' contributions into a graph's value
POOLINGS = ("sum", "mean", "attention")


class GraphScalarReadout(nn.Module):
    r"""``y_b = pool_{i in b} mean_o W f(x_i, o)``: invariant scalars per graph.

    ``pooling="sum"`` (extensive: energies, heat capacity, ...) adds the atoms' contributions;
    ``pooling="mean"`` (intensive: orbital energies, gap, ...) averages them, so the prediction
    does not scale with the number of atoms. ``pooling="attention"`` (intensive targets set by
    a few atoms, as an orbital energy by the atom that holds the orbital) takes a softmax-weighted
    average over every (atom, orientation) of the graph, per output ``k``:

    .. math::
        y_b^k = \sum_{i \in b,\, o} \operatorname{softmax}_{(i, o) \in b}(a^k(x_i, o))\,
        v^k(x_i, o),

    with ``a = A f`` and ``v = W f``; ``A`` starts at zero, so the readout starts as
    ``pooling="mean"`` over atoms and orientations. Invariant like the others: the softmax runs
    over a set, and on a grid fibre the sum over orientations is the same quadrature as the mean.

    ``hidden > 0`` puts a two-layer SiLU MLP in place of ``W`` (an atom-level output block, as
    DimeNet's): ``mean_o W_2 silu(W_1 f(x_i, o) + c_1)``.

    Shapes:
        f ``[N, O, C]``, batch ``[N]`` -> ``[B, k]``.
    """

    def __init__(
        self, channels: int, num_outputs: int, pooling: str = "sum", hidden: int = 0
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 0:
            raise ValueError(f"hidden must be an integer >= 0, got {hidden!r}")
        self.pooling = pooling
        self.mlp = None
        if hidden:
            self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.SiLU())
            channels = hidden
        self.linear = nn.Linear(channels, num_outputs)
        self.gate = None
        if pooling == "attention":
            self.gate = nn.Linear(channels, num_outputs)  # attention logits a = A f
            nn.init.zeros_(self.gate.weight)
            nn.init.zeros_(self.gate.bias)

    def node_values(self, f: Tensor) -> Tensor:
        """The atoms' contributions ``mean_o W f(x_i, o)``: ``[N, O, C] -> [N, k]`` (with
        ``pooling="sum"`` they add up to the output; per-atom energies)."""
        if self.gate is not None:
            raise ValueError("attention pooling has no per-atom values independent of the graph")
        if self.mlp is not None:
            f = self.mlp(f)  # [N, O, H]
        return self.linear(f).mean(dim=1)

    def forward(self, f: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        if self.gate is not None:
            return self._attention(f, batch, num_graphs)
        per_node = self.node_values(f)  # [N, k]
        total = scatter_sum(per_node, batch, num_graphs)  # [B, k]
        if self.pooling == "sum":
            return total
        counts = scatter_sum(torch.ones_like(per_node[:, :1]), batch, num_graphs)  # [B, 1]
        return total / counts.clamp_min(1.0)

    def _attention(self, f: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
        if self.mlp is not None:
            f = self.mlp(f)  # [N, O, H]
        n, o = f.shape[0], f.shape[1]
        rows = batch.repeat_interleave(o)  # [N O]: graph of each (atom, orientation)
        logits = self.gate(f).reshape(n * o, -1)  # [N O, k]
        values = self.linear(f).reshape(n * o, -1)  # [N O, k]
        weights = scatter_softmax(logits, rows, num_graphs)  # [N O, k]
        return scatter_sum(weights * values, rows, num_graphs)  # [B, k]


class FibreVectorReadout(nn.Module):
    r"""Node vectors from fibre features: ``v_i = project(W f(x_i, .))`` (equivariant).

    ``project`` is the space's projection from the fibre to R^3
    (:meth:`regconv.spaces.FibreSpace.project_vectors`, e.g. ``M^{-1} sum_o f_o n_o``). The same
    call as :class:`regconv.nn.EdgeVectorReadout`; the pairs and the basis are not used.

    Shapes:
        f ``[N, O, C]`` -> ``[N, k, 3]``.
    """

    def __init__(self, channels: int, num_outputs: int, components: int) -> None:
        super().__init__()
        self.linear = nn.Linear(channels, num_outputs * components)

    def forward(self, f: Tensor, pairs=None, basis: Tensor | None = None, space=None) -> Tensor:
        if space is None:
            raise ValueError("FibreVectorReadout needs the space to project onto R^3")
        return space.project_vectors(self.linear(f))  # [N, k, 3]
