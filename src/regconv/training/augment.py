"""Random rotations of batches for training augmentation and test-time averaging, and the sign
flips of scalar inputs.

Rotations are drawn per graph from an explicit ``torch.Generator`` (never the global RNG) with
:func:`regconv.geometry.random_rotations`, so a run's augmentation depends only on its seed and
the step, also after a resume; batches move with :func:`regconv.graph.transform_batch`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.geometry import random_rotations
from regconv.graph import rotate_node_vectors, transform_batch

__all__ = ["augment_batch", "random_rotations", "rotate_batch", "unrotate_vectors"]


def rotate_batch(batch, rot: Tensor, rotate_y: bool = False):
    """A copy of ``batch`` with graph ``b`` rotated by ``rot[b]`` (``[B, 3, 3]``): positions,
    vectors and reference predictions and, with ``rotate_y``, the targets ``y`` (node-level
    positions)."""
    return transform_batch(batch, rotation=rot, position_keys=("y",) if rotate_y else ())


def unrotate_vectors(out: Tensor, rot: Tensor, batch) -> Tensor:
    """Rotate node vectors ``out [N, C, 3]`` back by ``rot[b]^T`` of each node's graph."""
    return rotate_node_vectors(out, rot, batch, inverse=True)


def augment_batch(
    batch,
    seed: int,
    *,
    rotate: bool,
    flip_signs: bool,
    rotate_y: bool = False,
    world: int = 1,
    rank: int = 0,
):
    """A copy of ``batch`` (the caller's is not modified) with graph ``b`` rotated by a random
    rotation (``rotate``; the targets ``y`` too with ``rotate_y``) and, with ``flip_signs``, the
    scalar inputs ``x`` of a random half of the graphs negated. The draws come from a generator
    seeded by ``seed``, one per graph of the *global* batch of ``world`` processes: the samplers
    interleave the ranks, so global item ``j * world + rank`` is item ``j`` of ``rank``, and a
    run draws the same with any number of processes."""
    g = torch.Generator()
    g.manual_seed(seed)
    rot = random_rotations(world * batch.num_graphs, g)[rank::world]
    flip = torch.rand(world * batch.num_graphs, generator=g)[rank::world] < 0.5  # [B]
    batch = rotate_batch(batch, rot, rotate_y=rotate_y) if rotate else batch.clone()
    if flip_signs:
        x = getattr(batch, "x", None)
        if x is None:
            raise ValueError("sign_augment needs scalar input features batch.x")
        graph = getattr(batch, "batch", None)
        per_node = flip[graph] if graph is not None else flip[:1].expand(x.shape[0])
        sign = 1.0 - 2.0 * per_node.to(x.dtype)  # [N]
        batch.x = x * sign.view(-1, *([1] * (x.dim() - 1)))
    return batch
