"""R^3 = SE(3)/SO(3): atoms as points, the fibre is trivial (O = 1)."""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.geometry.invariants import distance
from regconv.spaces.base import FibreSpace


class R3(FibreSpace):
    r"""Euclidean space as a homogeneous space of SE(3) (and of E(3)).

    Pair invariant: :math:`|x_j - x_i|` — complete, for E(3) and SE(3) alike. The fibre is a single
    point, so features are ``[N, 1, C]``. Vectors cannot live on a trivial fibre: a vector input
    enters through its norm (:meth:`lift_vectors`), and vector outputs must be built from edge
    directions by the model.

    Shapes:
        spatial invariants ``[E, 1, 1]``; no fibre invariants.
    """

    spatial_dim = 1
    fibre_dim = 0
    vector_components = 0
    exact = True

    @property
    def num_fibre(self) -> int:
        return 1

    def rotated(self, rotation: Tensor) -> R3:
        """R^3 has no grid to rotate: the space itself (models on it are exactly invariant)."""
        return self

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
