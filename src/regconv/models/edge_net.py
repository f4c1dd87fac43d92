"""``r3s2-edge``: regular group convolutions on the edge cloud (DimeNet class)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from regconv.graph import edge_pairs
from regconv.kernels import Envelope, KernelBasis, build_envelope
from regconv.models.contract import Output, batch_edges, batch_vector, check_batch, set_contract
from regconv.nn import AtomEmbedding, ConvNeXtBlock, SeparableGroupConv
from regconv.ops import scatter_sum
from regconv.spaces import R3S2Edge
from regconv.utils.checks import optional_positive


class EdgeNet(nn.Module):
    r"""Regular GNN on R^3 x S^2 whose points are the directed edges of the molecular graph.

    Each edge ``j -> i`` is a point ``(x_j, n_ji)``; features live on edges, ``[E, 1, C]``.
    Messages pass between edges that share an atom (edge ``k -> j`` to edge ``j -> i``),
    with kernels conditioned on ``(d_kj, d_ji, cos∠(n_kj, n_ji))`` — DimeNet's distance and bond
    angle are exactly this space's pair invariants. Orientations come from the data, so the model
    is exactly E(3)-invariant (E(3)-equivariant for vector outputs).

    Readout: graph scalars sum edge features onto graphs; node vectors are
    ``v_i = sum_{j} n_ji w(h_ji)`` over the edges arriving at ``i``.

    Args:
        As :class:`regconv.models.FibreNet` (``cutoff`` defaults to 5: the edge cloud of a full
        graph grows as ``n^3`` in pairs); ``basis_dim``, ``degree``, ``length_scale`` as the
        options of its :class:`regconv.kernels.BasisSpec`, ``widening`` and ``layer_scale`` as
        those of its block (:class:`regconv.nn.BlockSpec`).
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        *,
        hidden: int = 128,
        layers: int = 4,
        basis_dim: int = 64,
        degree: int = 3,
        cutoff: float | None = 5.0,
        envelope: Envelope | Mapping[str, Any] | None = None,
        length_scale: float = 5.0,
        widening: int = 4,
        layer_scale: float | None = 1e-6,
        max_z: int = 9,
    ) -> None:
        super().__init__()
        set_contract(self, num_outputs, output, in_features, vector_in)
        optional_positive("cutoff", cutoff)
        self.space = R3S2Edge()
        self.cutoff = cutoff
        self.length_scale = float(length_scale)
        if in_features > 0:
            self.embed_src = nn.Linear(in_features, hidden)
            self.embed_dst = nn.Linear(in_features, hidden, bias=False)
        else:
            self.embed_src = AtomEmbedding(hidden, max_z)
            self.embed_dst = AtomEmbedding(hidden, max_z)
        self.embed_vec = nn.Linear(2 * vector_in, hidden, bias=False) if vector_in else None
        self.edge_basis = KernelBasis(1, basis_dim, degree)
        self.embed_len = nn.Linear(basis_dim, hidden, bias=False)
        self.pair_basis = KernelBasis(self.space.pair_dim, basis_dim, degree)
        self.envelope = build_envelope(envelope, cutoff)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(SeparableGroupConv(hidden, basis_dim), hidden, widening, layer_scale)
            for _ in range(layers)
        )
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, num_outputs)

    def forward(self, batch) -> Tensor:
        check_batch(batch, self.in_features, self.vector_in)
        pos = batch.pos
        bvec, num_graphs = batch_vector(batch)
        edge_index, x_ij, shift = batch_edges(batch, pos, bvec, self.cutoff)  # [2, E], [E, 3]
        pairs = edge_pairs(edge_index, pos.shape[0], shift)  # [2, T] (edge a -> edge b)
        n, length = self.space.edge_points(x_ij)  # [E, 3], [E, 1]
        scaled = length / self.length_scale
        env = self.envelope(length) if self.envelope is not None else torch.ones_like(length)  # [E, 1]

        atoms = batch.x if self.in_features else batch.z
        h = self.embed_src(atoms)[edge_index[0]] + self.embed_dst(atoms)[edge_index[1]]  # [E, C]
        h = h + self.embed_len(self.edge_basis(scaled))
        if self.embed_vec is not None:
            h = h + self.embed_vec(self.space.lift_vectors(batch.vec, edge_index, n))
        h = h.unsqueeze(1)  # [E, 1, C]

        inv = self.space.pair_invariants(n, scaled, pairs)  # [T, 3]
        basis = self.pair_basis(inv) * (env[pairs[0]] * env[pairs[1]])  # [T, K]
        basis = basis.unsqueeze(1)  # [T, 1, K]
        for block in self.blocks:
            h = block(h, pairs, basis)
        out = self.head(self.norm(h[:, 0])) * env  # [E, k]
        if self.output == "graph":
            return scatter_sum(out, bvec[edge_index[1]], num_graphs)  # [B, k]
        vectors = out.unsqueeze(-1) * n.unsqueeze(1)  # [E, k, 3]
        return scatter_sum(vectors, edge_index[1], pos.shape[0])  # [N, k, 3]
