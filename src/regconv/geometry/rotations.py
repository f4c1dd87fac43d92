"""Rotations and reflections of R^3, as 3x3 matrices acting on column vectors.

Point clouds are stored as rows ``pos [N, 3]``; a rotation ``R`` acts as ``pos @ R.T``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def random_orthogonal(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A Haar-random orthogonal matrix ``[3, 3]`` (determinant +1 or -1 with equal probability).

    QR of a Gaussian matrix with the signs of ``diag(R)`` moved into ``Q`` (Mezzadri, 2007).
    """
    a = torch.randn(3, 3, generator=generator, dtype=torch.float64)
    q, r = torch.linalg.qr(a)
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
    return q.to(dtype=dtype, device=device)


def random_rotation(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A Haar-random proper rotation ``[3, 3]`` (element of SO(3), determinant +1)."""
    q = random_orthogonal(generator, torch.float64)
    if torch.det(q) < 0:
        q = q.clone()
        q[:, 0] = -q[:, 0]
    return q.to(dtype=dtype, device=device)


def random_reflection(
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> Tensor:
    """A random improper orthogonal matrix ``[3, 3]`` (determinant -1): a rotation times ``-I``."""
    return -random_rotation(generator, dtype, device)


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
