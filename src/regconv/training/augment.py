"""Random rotations of batches for training augmentation and test-time averaging.

Rotations are drawn per graph from an explicit ``torch.Generator`` (never the global RNG) with
:func:`regconv.geometry.random_rotations`, so a run's augmentation depends only on its seed and
the step, also after a resume; batches move with :func:`regconv.graph.transform_batch`.
"""

from __future__ import annotations

from torch import Tensor

from regconv.geometry import random_rotations
from regconv.graph import rotate_node_vectors, transform_batch

__all__ = ["random_rotations", "rotate_batch", "unrotate_vectors"]


def rotate_batch(batch, rot: Tensor, rotate_y: bool = False):
    """A copy of ``batch`` with graph ``b`` rotated by ``rot[b]`` (``[B, 3, 3]``): positions,
    vectors and reference predictions and, with ``rotate_y``, the targets ``y`` (node-level
    positions)."""
    return transform_batch(batch, rotation=rot, position_keys=("y",) if rotate_y else ())


def unrotate_vectors(out: Tensor, rot: Tensor, batch) -> Tensor:
    """Rotate node vectors ``out [N, C, 3]`` back by ``rot[b]^T`` of each node's graph."""
    return rotate_node_vectors(out, rot, batch, inverse=True)
