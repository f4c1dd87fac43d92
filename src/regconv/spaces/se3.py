r"""SE(3) itself: points carry full frames from a finite rotation group."""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.geometry.invariants import frame_invariants, relative_frames
from regconv.spaces.base import FibreSpace
from regconv.spaces.grids import rotation_group


class SE3(FibreSpace):
    r"""The group SE(3) as its own homogeneous space, with a grid fibre on SO(3).

    Every point carries the same ``O`` frames ``R_o`` (the rotations of a finite subgroup of SO(3),
    stored as the buffer ``frames``). Pair invariants: ``g_i^{-1} g_j = (R_o^T x_ij, R_o^T R_p)``
    — six numbers, complete. The spatial kernel sees ``R_o^T x_ij`` (``[E, O, 3]``); the fibre
    kernel sees ``R_o^T R_p`` (``[O, O, 9]``).

    SE(3), not E(3): the local coordinates ``R_o^T x_ij`` change under reflections, so the models
    built on this space are chiral. Invariance is exact for the rotations of the group and
    approximate (quadrature over SO(3)) for the others.

    Vectors lift to their local coordinates ``R_o^T v`` (3 channels per vector) and project as
    ``mean_o R_o f_o``, which inverts the lift exactly.

    Shapes:
        frames ``[O, 3, 3]``; spatial invariants ``[E, O, 3]``; fibre invariants ``[O, O, 9]``.
    """

    spatial_dim = 3
    fibre_dim = 9
    vector_components = 3
    exact = False

    def __init__(self, group: str = "octahedral") -> None:
        super().__init__()
        self.group = group
        self.register_buffer("frames", rotation_group(group, torch.get_default_dtype()))

    @property
    def chiral(self) -> bool:
        return True

    @property
    def num_fibre(self) -> int:
        return self.frames.shape[0]

    def rotated(self, rotation: Tensor) -> SE3:
        """A copy whose frames are rotated by ``rotation`` — used by exactness tests."""
        other = SE3(self.group).to(self.frames)
        other.frames.copy_(rotation.to(self.frames) @ self.frames)
        return other

    def spatial_invariants(self, x_ij: Tensor) -> Tensor:
        return frame_invariants(x_ij, self.frames)  # [E, O, 3]

    def fibre_invariants(self) -> Tensor:
        return relative_frames(self.frames)  # [O, O, 9]

    def lift_vectors(self, vec: Tensor) -> Tensor:
        """``[N, V, 3] -> [N, O, 3V]``: local coordinates ``R_o^T v``."""
        local = torch.einsum("nvk,okl->novl", vec, self.frames)  # [N, O, V, 3]
        return local.reshape(vec.shape[0], self.num_fibre, -1)

    def project_vectors(self, f: Tensor) -> Tensor:
        """``[N, O, 3V] -> [N, V, 3]``: ``mean_o R_o f_o``."""
        local = f.reshape(f.shape[0], self.num_fibre, -1, 3)  # [N, O, V, 3]
        return torch.einsum("novl,okl->nvk", local, self.frames) / self.num_fibre
