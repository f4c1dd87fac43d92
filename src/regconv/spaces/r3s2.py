r"""R^3 x S^2 = SE(3)/SO(2) with a shared grid of orientations (PONITA class)."""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.geometry.invariants import axial_invariants, full_r3s2_invariants, sphere_invariants
from regconv.spaces.base import FibreSpace
from regconv.spaces.grids import fibonacci_sphere


class R3S2(FibreSpace):
    r"""Position-orientation space with a grid fibre: every point carries the same ``O`` unit
    vectors ``n_o`` (a Fibonacci lattice, stored as the buffer ``grid``).

    Separable kernels see, per receiving orientation, the spatial invariants
    ``(n_o . x_ij, |x_ij ⊥ n_o|)`` and, on the fibre, ``n_o . n_p``. The full kernel sees the
    complete set ``(a1, a2, a3, c, s)`` of :func:`regconv.geometry.full_r3s2_invariants`.

    Equivariance is exact for rotations that map the grid to itself (for a generic rotation the
    fibre sum is a quadrature of the integral over S^2 and invariance is approximate; the error
    falls with ``O``). Rotating the grid together with the input is exact (see :meth:`rotated`).

    Vectors lift as ``f_o = v . n_o`` and project back as ``M^{-1} sum_o f_o (n_o - m)`` with
    the grid mean ``m = mean_o n_o`` and ``M = sum_o (n_o - m)(n_o - m)^T``: projecting a lifted
    vector returns it exactly, and a feature that is constant over the fibre (an invariant, e.g.
    a bias) projects to zero. (Without the centring, a Fibonacci grid, whose mean is not zero —
    ``|m|`` = 0.023 for ``O = 12``, 0.011 for ``O = 20`` — would turn an invariant feature ``c``
    into the vector ``~3 c m`` along a fixed direction, which does not rotate with the input.)

    Shapes:
        grid ``[O, 3]``; spatial invariants ``[E, O, 2]``; fibre invariants ``[O, O, 1]``;
        full invariants ``[E, O, O, 5]``.
    """

    spatial_dim = 2
    fibre_dim = 1
    full_dim = 5
    vector_components = 1
    exact = False

    def __init__(self, num_orientations: int = 16, chiral: bool = False) -> None:
        super().__init__()
        if num_orientations < 3:
            raise ValueError(f"R3S2 needs at least 3 orientations, got {num_orientations}")
        self._chiral = bool(chiral)
        self.register_buffer("grid", fibonacci_sphere(num_orientations, torch.get_default_dtype()))

    @property
    def chiral(self) -> bool:
        """Whether the full kernel keeps the sign of the azimuth (SE(3)); the separable kernel is
        E(3)-invariant either way."""
        return self._chiral

    @property
    def num_fibre(self) -> int:
        return self.grid.shape[0]

    def rotated(self, rotation: Tensor) -> R3S2:
        """A copy whose grid is rotated by ``rotation`` (``[3, 3]``) — used by exactness tests."""
        other = R3S2(self.num_fibre, self.chiral).to(self.grid)
        other.grid.copy_(self.grid @ rotation.to(self.grid).T)
        return other

    def spatial_invariants(self, x_ij: Tensor) -> Tensor:
        return axial_invariants(x_ij, self.grid)  # [E, O, 2]

    def fibre_invariants(self) -> Tensor:
        return sphere_invariants(self.grid)  # [O, O, 1]

    def full_invariants(self, x_ij: Tensor) -> Tensor:
        return full_r3s2_invariants(x_ij, self.grid, self.chiral)  # [E, O, O, 5]

    def lift_vectors(self, vec: Tensor) -> Tensor:
        """``[N, V, 3] -> [N, O, V]``: ``f_o = v . n_o``."""
        return torch.einsum("nvk,ok->nov", vec, self.grid)

    def project_vectors(self, f: Tensor) -> Tensor:
        """``[N, O, V] -> [N, V, 3]``: ``M^{-1} sum_o f_o (n_o - m)`` (see the class docstring)."""
        centred = self.grid - self.grid.mean(0)  # [O, 3]
        second_moment = centred.T @ centred  # [3, 3], = sum_o (n_o - m) n_o^T
        summed = torch.einsum("nov,ok->nvk", f, centred)
        return summed @ torch.linalg.inv(second_moment)  # M is symmetric
