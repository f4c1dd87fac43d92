r"""R^3 x S^2 with the edge fibre (the "edge cloud"; DimeNet / SphereNet class)."""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.geometry.invariants import bond_angle_cosine
from regconv.spaces.base import EdgeSpace


class R3S2Edge(EdgeSpace):
    r"""Position-orientation space whose points are the directed edges of a graph.

    The edge ``k -> j`` (``edge_index = (src k, dst j)``) is the point ``(x_k, n)`` with
    ``n = (x_j - x_k) / |x_j - x_k|``: it sits on its source atom and points at its destination.
    Messages pass from edge ``a = (k -> j)`` to edge ``b = (j -> i)`` (they share atom ``j``).
    For such a pair ``x_a - x_b = -d_kj n_a``, so the complete pair invariants of R^3 x S^2
    reduce to the length ``d_kj`` and the bond angle ``cos∠(n_a, n_b)``; the azimuth is degenerate
    (``x_ab ∥ n_a``) and a torsion needs a third edge (SphereNet).

    Orientations come from the data, not from a grid: models on this space are exactly
    E(3)-invariant (exactly E(3)-equivariant for vector outputs).

    Pair invariants returned by :meth:`pair_invariants`: ``[d_a, d_b, cos∠(n_a, n_b)]``.

    Degenerate case: a zero-length edge (duplicate atoms) has no direction; :meth:`edge_points`
    rejects it with a ``ValueError``.

    Shapes:
        edge directions ``[E, 3]``, lengths ``[E, 1]``; pair invariants ``[T, 3]``.
    """

    pair_dim = 3
    exact = True

    def edge_points(self, x_ij: Tensor) -> tuple[Tensor, Tensor]:
        """Unit direction ``[E, 3]`` from source to destination, ``n = -x_ij / |x_ij|``, and
        length ``[E, 1]`` of each directed edge, from its relative position
        ``x_ij = x_j - x_i`` (``+ S cell`` in a periodic graph)."""
        vec = -x_ij  # [E, 3], x_i - x_j
        length = torch.linalg.vector_norm(vec, dim=-1, keepdim=True)  # [E, 1]
        if bool((length == 0).any()):
            raise ValueError("edge cloud: two atoms share a position, an edge has no direction")
        return vec / length, length

    def pair_invariants(self, n: Tensor, length: Tensor, pairs: Tensor) -> Tensor:
        """``[d_a, d_b, cos∠(n_a, n_b)]`` for each pair ``(a, b) = pairs[:, t]``: ``[T, 3]``."""
        a, b = pairs[0], pairs[1]
        return torch.cat([length[a], length[b], bond_angle_cosine(n[a], n[b])], dim=-1)

    def lift_vectors(self, vec: Tensor, edge_index: Tensor, n: Tensor) -> Tensor:
        """Vectors of both end atoms along the edge: ``[N, V, 3] -> [E, 2V]``."""
        src = torch.einsum("evk,ek->ev", vec[edge_index[0]], n)
        dst = torch.einsum("evk,ek->ev", vec[edge_index[1]], n)
        return torch.cat([src, dst], dim=-1)
