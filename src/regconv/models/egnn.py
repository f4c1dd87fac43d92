"""``egnn``: E(n)-equivariant graph neural networks (Satorras et al. 2021) on R^3."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from regconv.kernels import Envelope, build_envelope
from regconv.models.contract import Output, batch_edges, batch_vector, check_batch, set_contract
from regconv.nn import AtomEmbedding, GraphScalarReadout
from regconv.nn.egnn_layer import EGNNLayer
from regconv.spaces import R3
from regconv.utils.checks import check_int, check_positive, optional_positive


class EGNN(nn.Module):
    r"""EGNN: non-linear messages of both endpoints' features and the squared distance, and
    equivariant coordinate updates.

    - **Space**: R^3; the pair invariant is ``|x_ij|^2`` (complete), recomputed from the updated
      coordinates at every layer. Exactly E(3)-equivariant: every coordinate update is a sum of
      relative positions and input vectors weighted by invariants.
    - **Kernel**: non-linear in the features: ``m_ij = phi_e(h_i, h_j, |x_ij|^2)`` (an MLP of
      the receiving and sending features jointly), ``h_i += phi_h(h_i, sum_j m_ij)``
      (:class:`regconv.nn.egnn_layer.EGNNLayer`).
    - **Conditions on**: ``h_i``, ``h_j`` and ``|x^c_j - x^c_i|^2 / length_scale^2`` of the
      current coordinates; the edge weight is the cosine envelope of the *input* distance (when
      ``cutoff`` is set), times the learned edge gate when ``soft_edges``.
    - **Coordinates**: ``x_i += mean_j (x_i - x_j)/(|x_ij| + 1) r tanh(phi_x(m_ij))
      (+ phi_v(h_i) v_i with vector inputs, EGNN-vel)``. ``output="node_vector"`` returns the
      displacement ``x_final - x_input`` of ``num_outputs`` independent coordinate channels
      (EGNN has one). ``output="graph"`` sums ``Linear(MLP(h_i))`` over atoms.

    The graph is built once from the input positions (``cutoff=None``: fully connected, as the
    paper); coordinates move but edges do not. Vector inputs also enter the node embedding through
    their norms (as EGNN's ``|v|`` for N-body).

    Differences from the paper: ``num_outputs`` coordinate channels instead of one; coordinate
    means are weighted by the envelope (``sum g (..) / max(1, sum g)``) so that a radius graph
    stays continuous; distances are divided by ``length_scale``; the graph readout is
    ``sum_i W MLP(h_i)`` without the paper's post-sum MLP. The paper's QM9 setup uses
    ``update_coords=False`` and ``soft_edges=True``.

    Args:
        num_outputs, output, in_features, vector_in, hidden, layers, cutoff, envelope, max_z: as
            :class:`regconv.models.FibreNet` (``cutoff`` defaults to None: fully connected).
        length_scale: positions are divided by it inside the layers (outputs are rescaled back).
        update_coords: move the coordinates (required for ``output="node_vector"``).
        soft_edges: learned edge gate ``sigmoid(phi_inf(m_ij))``.
        coords_range: bound ``r`` of each coordinate weight (``r tanh(.)``), in ``length_scale``
            units.
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        *,
        hidden: int = 128,
        layers: int = 7,
        cutoff: float | None = None,
        envelope: Envelope | Mapping[str, Any] | None = None,
        length_scale: float = 1.0,
        update_coords: bool = True,
        soft_edges: bool = False,
        coords_range: float = 5.0,
        max_z: int = 9,
    ) -> None:
        super().__init__()
        set_contract(self, num_outputs, output, in_features, vector_in)
        check_int("hidden", hidden)
        check_int("layers", layers)
        optional_positive("cutoff", cutoff)
        check_positive("length_scale", length_scale)
        if output == "node_vector" and not update_coords:
            raise ValueError(
                "output='node_vector' is the coordinate displacement: needs update_coords=True"
            )
        self.space = R3()
        self.cutoff = cutoff
        self.length_scale = float(length_scale)
        self.coord_channels = num_outputs if output == "node_vector" else 1
        self.embed = (
            nn.Linear(in_features, hidden) if in_features > 0 else AtomEmbedding(hidden, max_z)
        )
        self.embed_vec = nn.Linear(vector_in, hidden, bias=False) if vector_in else None
        self.envelope = build_envelope(envelope, cutoff)
        # The last layer only computes what the readout uses (no unused parameters).
        self.layers = nn.ModuleList(
            EGNNLayer(
                hidden, self.coord_channels, vector_in,
                update_coords=update_coords and (output == "node_vector" or l < layers - 1),
                soft_edges=soft_edges, coords_range=coords_range,
                update_features=output == "graph" or l < layers - 1,
            )
            for l in range(layers)
        )
        if output == "graph":
            self.node_dec = nn.Sequential(
                nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
            )
            self.readout = GraphScalarReadout(hidden, num_outputs)
        else:
            self.node_dec = None
            self.readout = None

    def forward(self, batch) -> Tensor:
        check_batch(batch, self.in_features, self.vector_in)
        pos = batch.pos
        bvec, num_graphs = batch_vector(batch)
        edge_index, x_ij, shift = batch_edges(batch, pos, bvec, self.cutoff)  # [2, E], [E, 3]
        env = None
        if self.envelope is not None:
            env = self.envelope(self.space.spatial_invariants(x_ij)[:, 0, 0])  # [E]
        lattice = None  # [E, 1, 3]: S cell of periodic edges, x_ij - (x_j - x_i)
        if shift is not None:
            src, dst = edge_index[0], edge_index[1]
            lattice = x_ij - (pos.index_select(0, src) - pos.index_select(0, dst))
            lattice = (lattice / self.length_scale).unsqueeze(1)

        h = self.embed(batch.x if self.in_features else batch.z)  # [N, C]
        vec = None
        if self.vector_in:
            h = h + self.embed_vec(self.space.lift_vectors(batch.vec)[:, 0])
            vec = batch.vec / self.length_scale
        x = (pos / self.length_scale).unsqueeze(1).expand(-1, self.coord_channels, -1)  # [N, K, 3]
        disp = torch.zeros_like(x)  # accumulated separately: x_final - x_input without rounding
        for layer in self.layers:
            h, delta = layer(h, x, edge_index, env, vec, lattice)
            x = x + delta
            disp = disp + delta
        if self.output == "graph":
            return self.readout(self.node_dec(h).unsqueeze(1), bvec, num_graphs)  # [B, k]
        return disp * self.length_scale  # [N, k, 3]
