r"""The E(n)-equivariant graph convolution layer (EGNN, Satorras et al. 2021), with several
coordinate channels and optional velocities."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regconv.ops import scatter_sum


class EGNNLayer(nn.Module):
    r"""Non-linear messages on R^3 and equivariant coordinate updates.

    .. math::
        m_{ij} &= g_{ij}\, \phi_e(h_i, h_j, \{|x^c_j - x^c_i|^2\}_c) \\
        h_i &\leftarrow h_i + \phi_h\big(h_i, \textstyle\sum_j m_{ij}\big) \\
        \Delta^c_i &= \frac{1}{\max(1, \sum_j g_{ij})} \sum_j g_{ij}\,
            \frac{x^c_i - x^c_j}{|x^c_i - x^c_j| + 1}\, r \tanh \phi_x(m_{ij})_c
            \;+\; \sum_v \phi_v(h_i)_{cv}\, v_{i,v} \\
        x^c_i &\leftarrow x^c_i + \Delta^c_i \quad\text{(by the caller)}

    ``c`` runs over ``K`` coordinate channels (EGNN has ``K = 1``; each channel here is an
    independent copy of the coordinates, all starting at the input positions, so ``K`` vector
    outputs come out). ``g_ij`` is an edge weight (the cutoff envelope, times the learned edge
    gate ``sigmoid(phi_inf(m_ij))`` when ``soft_edges``) — with ``g = 1`` the coordinate term is
    EGNN's mean over neighbours. The velocity term is EGNN-vel's ``phi_v(h_i) v_i`` (it is applied
    to the input vectors at every layer). Safeguards: differences are normalised by
    ``|x_ij| + 1``, ``phi_x`` goes through ``tanh`` scaled by ``coords_range`` ``r`` and its last
    layer starts near zero, so the initial coordinate updates are small.

    A model's last layer leaves out what nothing downstream uses (``update_features=False``: no
    ``phi_h``; ``update_coords=False``: no ``phi_x``, ``phi_v``), so every parameter gets a
    gradient.

    Shapes:
        h ``[N, C]``; x ``[N, K, 3]``; edge_index ``[2, E]``; edge_weight ``[E]`` or None;
        vec ``[N, V, 3]`` or None; lattice ``[E, 1, 3]`` or None (periodic graphs: ``S cell`` of
        each edge, the image of ``j`` at ``x_j + S cell``) -> (new h ``[N, C]``, coordinate update ``Delta [N, K, 3]``; zeros
        when ``update_coords`` is False). The update is returned, not ``x + Delta``, so that a
        model can accumulate displacements without the rounding of ``(x + Delta) - x``.
    """

    def __init__(
        self,
        channels: int,
        coord_channels: int = 1,
        vector_in: int = 0,
        update_coords: bool = True,
        soft_edges: bool = False,
        coords_range: float = 5.0,
        update_features: bool = True,
    ) -> None:
        super().__init__()
        if coord_channels < 1:
            raise ValueError(f"coord_channels must be >= 1, got {coord_channels}")
        self.coord_channels = coord_channels
        self.vector_in = vector_in
        self.update_coords = bool(update_coords)
        self.coords_range = float(coords_range)
        act = nn.SiLU
        self.phi_e = nn.Sequential(
            nn.Linear(2 * channels + coord_channels, channels), act(),
            nn.Linear(channels, channels), act(),
        )
        self.phi_inf = nn.Sequential(nn.Linear(channels, 1), nn.Sigmoid()) if soft_edges else None
        self.phi_h = (
            nn.Sequential(nn.Linear(2 * channels, channels), act(), nn.Linear(channels, channels))
            if update_features else None
        )
        if self.update_coords:
            last = nn.Linear(channels, coord_channels, bias=False)
            nn.init.xavier_uniform_(last.weight, gain=1e-3)
            self.phi_x = nn.Sequential(nn.Linear(channels, channels), act(), last)
            self.phi_v = (
                nn.Sequential(nn.Linear(channels, channels), act(),
                              nn.Linear(channels, coord_channels * vector_in))
                if vector_in else None
            )
        else:
            self.phi_x = None
            self.phi_v = None

    def forward(
        self,
        h: Tensor,
        x: Tensor,
        edge_index: Tensor,
        edge_weight: Tensor | None = None,
        vec: Tensor | None = None,
        lattice: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        src, dst = edge_index[0], edge_index[1]
        n = h.shape[0]
        diff = x.index_select(0, dst) - x.index_select(0, src)  # [E, K, 3]  x_i - x_j
        if lattice is not None:  # [E, 1, 3]: the image of j is x_j + S cell
            diff = diff - lattice
        sq = (diff * diff).sum(-1)  # [E, K]
        m = self.phi_e(torch.cat([h.index_select(0, dst), h.index_select(0, src), sq], dim=-1))
        weight = edge_weight.unsqueeze(-1) if edge_weight is not None else None  # [E, 1]
        if self.phi_inf is not None:
            gate = self.phi_inf(m)  # [E, 1]
            weight = gate if weight is None else weight * gate
        if weight is not None:
            m = m * weight
        if self.phi_h is not None:
            agg = scatter_sum(m, dst, n)  # [N, C]
            h_new = h + self.phi_h(torch.cat([h, agg], dim=-1))
        else:
            h_new = h
        if not self.update_coords:
            return h_new, torch.zeros_like(x)
        w = self.coords_range * torch.tanh(self.phi_x(m))  # [E, K]
        if weight is not None:
            w = w * weight
        unit = diff / (torch.sqrt(sq).unsqueeze(-1) + 1.0)  # [E, K, 3]
        total = scatter_sum(w.unsqueeze(-1) * unit, dst, n)  # [N, K, 3]
        ones = weight if weight is not None else torch.ones_like(sq[:, :1])
        count = scatter_sum(ones, dst, n).clamp_min(1.0)  # [N, 1]
        delta = total / count.unsqueeze(-1)
        if self.phi_v is not None:
            if vec is None:
                raise ValueError("this layer has a velocity term: pass vec [N, V, 3]")
            u = self.phi_v(h).view(n, self.coord_channels, self.vector_in)  # [N, K, V]
            delta = delta + u @ vec  # [N, K, 3]
        return h_new, delta
