"""Random rotations of batches: training augmentation and test-time averaging.

Rotations are drawn per graph from an explicit ``torch.Generator`` (never the global RNG), so a
run's augmentation depends only on its seed and the step, also after a resume.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["random_rotations", "rotate_batch", "unrotate_vectors"]


def random_rotations(n: int, generator: torch.Generator) -> Tensor:
    """``n`` Haar-random rotation matrices ``[n, 3, 3]`` (float64), from unit quaternions
    (normalised Gaussian 4-vectors are uniform on the 3-sphere)."""
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    return torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


def _per_node(rot: Tensor, batch) -> Tensor:
    index = batch.batch if getattr(batch, "batch", None) is not None else None
    if index is None:
        index = torch.zeros(batch.pos.shape[0], dtype=torch.long, device=batch.pos.device)
    return rot.to(device=batch.pos.device, dtype=batch.pos.dtype)[index]  # [N, 3, 3]


def rotate_batch(batch, rot: Tensor, rotate_y: bool = False):
    """A shallow copy of ``batch`` with graph ``b`` rotated by ``rot[b]`` (``[B, 3, 3]``):
    ``pos``, ``vec`` and ``base`` (if present) and, with ``rotate_y``, ``y`` (node-level
    positions)."""
    r = _per_node(rot, batch)
    out = batch.clone() if hasattr(batch, "clone") else batch
    out.pos = torch.einsum("nij,nj->ni", r, batch.pos)
    if getattr(batch, "vec", None) is not None:
        out.vec = torch.einsum("nij,nvj->nvi", r, batch.vec)
    if getattr(batch, "base", None) is not None:
        out.base = torch.einsum("nij,nj->ni", r, batch.base)
    if rotate_y:
        out.y = torch.einsum("nij,nj->ni", r, batch.y)
    return out


def unrotate_vectors(out: Tensor, rot: Tensor, batch) -> Tensor:
    """Rotate node vectors ``out [N, C, 3]`` back by ``rot[b]^T`` of each node's graph."""
    r = _per_node(rot, batch).to(out.dtype)
    return torch.einsum("nji,ncj->nci", r, out)
