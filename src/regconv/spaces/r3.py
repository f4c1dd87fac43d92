"""R^3 = SE(3)/SO(3): atoms as points, the fibre is trivial (O = 1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from regconv.geometry.invariants import distance


class R3(nn.Module):
    r"""Euclidean space as a homogeneous space of SE(3) (and of E(3)).

    Pair invariant: :math:`|x_j - x_i|` — complete, for E(3) and SE(3) alike. The fibre is a single
    point, so features are ``[N, 1, C]``. Vectors cannot live on a trivial fibre: a vector input
    enters through its norm (:meth:`lift_vectors`), and vector outputs must be built from edge
    directions by the model.

    Shapes:
        spatial invariants ``[E, 1, 1]``; no fibre invariants.
    """

    num_fibre = 1
    spatial_dim = 1
    fibre_dim = 0
    vector_components = 0
    exact = True

    def spatial_invariants(self, x_ij: Tensor) -> Tensor:
        """``|x_ij|`` as ``[E, 1, 1]``."""
        return distance(x_ij).unsqueeze(1)

    def fibre_invariants(self) -> Tensor | None:
        return None

    def lift_vectors(self, vec: Tensor) -> Tensor:
        """Norms of the vectors: ``[N, V, 3] -> [N, 1, V]`` (rotation and reflection invariant)."""
        return torch.linalg.vector_norm(vec, dim=-1).unsqueeze(1)

    def project_vectors(self, f: Tensor) -> Tensor:
        raise ValueError("R3 has a trivial fibre: vector outputs need edge directions")
