"""The shared body of the edge-cloud models with fixed radial x angular bases (DimeNet++,
SphereNet): embedding of directed edges, directional interactions, output blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from regconv.graph import edge_pairs
from regconv.kernels import BesselRBF, Envelope, LegendreBasis, TorsionBasis, build_envelope
from regconv.models.contract import Output, batch_edges, batch_vector, check_batch, set_contract
from regconv.nn import AtomEmbedding
from regconv.nn.atom_output import AtomOutputBlock
from regconv.nn.directional import DirectionalInteraction
from regconv.nn.edge_output import EdgeOutputBlock
from regconv.ops import scatter_sum
from regconv.spaces import R3S2Edge
from regconv.utils.checks import check_choice, check_int, optional_positive


class DirectionalNet(nn.Module):
    """Shared body of :class:`DimeNet` and :class:`regconv.models.SphereNet` (the triplet basis
    differs: SphereNet adds torsion features through ``torsion``)."""

    def __init__(
        self,
        *,
        num_outputs: int,
        output: Output,
        in_features: int,
        vector_in: int,
        hidden: int,
        layers: int,
        int_channels: int | None,
        num_radial: int,
        num_spherical: int,
        cutoff: float | None,
        envelope: Envelope | Mapping[str, Any] | None,
        max_z: int,
        torsion: TorsionBasis | None,
        output_block: str = "edge",
        out_channels: int | None = None,
    ) -> None:
        super().__init__()
        set_contract(self, num_outputs, output, in_features, vector_in)
        check_choice("output_block", output_block, ("edge", "atom"))
        if output_block == "atom" and output != "graph":
            raise ValueError("output_block='atom' gives graph outputs only; 'edge' gives vectors")
        if out_channels is not None and (output_block != "atom" or out_channels < 1):
            raise ValueError(f"out_channels (>= 1) needs output_block='atom', got {out_channels!r}")
        self.output_block = output_block
        for name, value in (("hidden", hidden), ("layers", layers), ("num_radial", num_radial),
                            ("num_spherical", num_spherical)):
            check_int(name, value)
        optional_positive("cutoff", cutoff)
        inner = max(hidden // 2, 1) if int_channels is None else int_channels
        check_int("int_channels", inner)
        self.space = R3S2Edge()
        self.cutoff = cutoff
        self.rbf = BesselRBF(num_radial, cutoff if cutoff is not None else 10.0)
        self.angular = LegendreBasis(num_spherical)
        self.torsion = torsion
        self.envelope = build_envelope(envelope, cutoff)
        triplet_dim = num_radial * num_spherical * (torsion.out_dim if torsion is not None else 1)
        self.embed_atoms = (
            nn.Linear(in_features, hidden) if in_features > 0 else AtomEmbedding(hidden, max_z)
        )
        self.embed_rbf = nn.Sequential(nn.Linear(num_radial, hidden), nn.SiLU())
        self.embed_edge = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.SiLU())
        self.embed_vec = nn.Linear(2 * vector_in, hidden, bias=False) if vector_in else None
        self.interactions = nn.ModuleList(
            DirectionalInteraction(hidden, inner, num_radial, triplet_dim) for _ in range(layers)
        )
        if output_block == "atom":
            width = 2 * hidden if out_channels is None else out_channels
            self.heads = nn.ModuleList(
                AtomOutputBlock(hidden, num_radial, num_outputs, width) for _ in range(layers + 1)
            )
        else:
            self.heads = nn.ModuleList(
                EdgeOutputBlock(hidden, num_radial, num_outputs) for _ in range(layers + 1)
            )

    def _torsion_features(
        self,
        edge_index: Tensor,
        pairs: Tensor,
        n: Tensor,
        length: Tensor,
        num_nodes: int,
        shift: Tensor | None,
    ) -> Tensor | None:
        """Extra per-triplet features ``[T, M']`` multiplied into the triplet basis (none here)."""
        return None

    def forward(self, batch) -> Tensor:
        check_batch(batch, self.in_features, self.vector_in)
        pos = batch.pos
        bvec, num_graphs = batch_vector(batch)
        edge_index, x_ij, shift = batch_edges(batch, pos, bvec, self.cutoff)  # [2, E], [E, 3]
        # [2, T]: edge a = (k -> j), edge b = (j -> i)
        pairs = edge_pairs(edge_index, pos.shape[0], shift)
        n, length = self.space.edge_points(x_ij)  # [E, 3], [E, 1]
        env = self.envelope(length) if self.envelope is not None else None  # [E, 1]
        rbf = self.rbf(length[:, 0])  # [E, R]
        if env is not None:
            rbf = rbf * env

        # Triplet basis: radial(d_kj) x Legendre(cos angle_kji) [x torsion features].
        inv = self.space.pair_invariants(n, length, pairs)  # [T, 3]: d_kj, d_ji, cos(n_a, n_b)
        angular = self.angular(-inv[:, 2])  # [T, L]; -cos(n_a, n_b) = cos angle_kji
        triplet = rbf.index_select(0, pairs[0]).unsqueeze(-1) * angular.unsqueeze(1)  # [T, R, L]
        tors = self._torsion_features(edge_index, pairs, n, length, pos.shape[0], shift)  # [T, M'] or None
        if tors is not None:
            triplet = triplet.unsqueeze(-1) * tors.unsqueeze(1).unsqueeze(1)
        triplet = triplet.flatten(1)  # [T, K]

        atoms = self.embed_atoms(batch.x if self.in_features else batch.z)  # [N, C]
        src, dst = edge_index[0], edge_index[1]
        pair = [atoms.index_select(0, src), atoms.index_select(0, dst), self.embed_rbf(rbf)]
        h = self.embed_edge(torch.cat(pair, dim=-1))  # [E, C]
        if self.embed_vec is not None:
            h = h + self.embed_vec(self.space.lift_vectors(batch.vec, edge_index, n))
        if self.output_block == "atom":  # rbf already carries the envelope
            num_nodes = pos.shape[0]
            out = self.heads[0](h, rbf, dst, num_nodes)  # [N, k]
            for block, head in zip(self.interactions, self.heads[1:], strict=True):
                h = block(h, pairs, rbf, triplet)
                out = out + head(h, rbf, dst, num_nodes)
            return scatter_sum(out, bvec, num_graphs)  # [B, k]
        out = self.heads[0](h, rbf, env)  # [E, k]
        for block, head in zip(self.interactions, self.heads[1:], strict=True):
            h = block(h, pairs, rbf, triplet)
            out = out + head(h, rbf, env)
        if self.output == "graph":
            return scatter_sum(out, bvec.index_select(0, dst), num_graphs)  # [B, k]
        return scatter_sum(out.unsqueeze(-1) * n.unsqueeze(1), dst, pos.shape[0])  # [N, k, 3]
