"""Rotations and reflections of R^3, as 3x3 matrices acting on column vectors.

Point clouds are stored as rows ``pos [N, 3]``; a rotation ``R`` acts as ``pos @ R.T``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_rotations(
    n: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """``n`` Haar-random proper rotations ``[n, 3, 3]``: the rotation matrices of unit
    quaternions (normalised Gaussian 4-vectors are uniform on the 3-sphere). The one sampler of
    the library: augmentation, test-time averaging and the equivariance kit all draw from it,
    always in float64 from an explicit generator, then cast."""
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    rot = torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )
    return rot.to(dtype=dtype, device=device)


def random_rotation(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A Haar-random proper rotation ``[3, 3]`` (element of SO(3), determinant +1)."""
    return random_rotations(1, generator, dtype, device)[0]


def random_reflection(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A random improper orthogonal matrix ``[3, 3]`` (determinant -1): a rotation times ``-I``."""
    return -random_rotation(generator, dtype, device)


def random_orthogonal(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A Haar-random orthogonal matrix ``[3, 3]``: a random rotation, times ``-I`` with
    probability 1/2 (a fair coin drawn after the rotation)."""
    rot = random_rotation(generator, torch.float64)
    sign = 1.0 if float(torch.rand((), generator=generator, dtype=torch.float64)) < 0.5 else -1.0
    return (sign * rot).to(dtype=dtype, device=device)


def axis_angle_to_matrix(axis: Tensor, angle: Tensor | float) -> Tensor:
    """Rotation by ``angle`` (radians, right-handed) about ``axis`` (``[3]``, any length > 0).

    Rodrigues' formula: ``R = I + sin(a) K + (1 - cos(a)) K^2`` with ``K`` the cross-product
    matrix of the unit axis.
    """
    axis = torch.as_tensor(axis)
    norm = torch.linalg.vector_norm(axis)
    if not torch.isfinite(norm) or norm == 0:
        raise ValueError("axis must be a finite, non-zero 3-vector")
    k = axis / norm
    angle = torch.as_tensor(angle, dtype=axis.dtype)
    zero = torch.zeros((), dtype=axis.dtype)
    kx = torch.stack(
        [
            torch.stack([zero, -k[2], k[1]]),
            torch.stack([k[2], zero, -k[0]]),
            torch.stack([-k[1], k[0], zero]),
        ]
    )
    eye = torch.eye(3, dtype=axis.dtype)
    return eye + torch.sin(angle) * kx + (1 - torch.cos(angle)) * (kx @ kx)
