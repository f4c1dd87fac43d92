r"""A locality-preserving order of the nodes of a batch (Morton / Z-order within each graph).

Message passing gathers the features of every edge's source. On a large graph whose nodes come
in random order those gathers jump all over memory; renumbering the nodes along a space-filling
curve puts neighbours at nearby rows, so the gathers and scatters of a radius graph stay in
cache. The order only relabels nodes: a model that is permutation-equivariant gives the same
result up to float round-off (sums are taken in another order).
"""

from __future__ import annotations

import torch
from torch import Tensor

_BITS = 21  # bits per coordinate: 3 x 21 = 63 fit in int64


def _spread(v: Tensor) -> Tensor:
    """Insert two zero bits between the 21 low bits of ``v`` (int64)."""
    v = (v | (v << 32)) & 0x1F00000000FFFF
    v = (v | (v << 16)) & 0x1F0000FF0000FF
    v = (v | (v << 8)) & 0x100F00F00F00F00F
    v = (v | (v << 4)) & 0x10C30C30C30C30C3
    v = (v | (v << 2)) & 0x1249249249249249
    return v


def morton_codes(pos: Tensor, cell: float) -> Tensor:
    """Z-order code of the cube of side ``cell`` holding each point. Shapes: ``[N, 3] -> [N]``."""
    if not cell > 0:
        raise ValueError(f"cell must be positive, got {cell}")
    if pos.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long, device=pos.device)
    ijk = ((pos - pos.amin(0)) / cell).floor().long().clamp_(0, 2**_BITS - 1)  # [N, 3]
    return _spread(ijk[:, 0]) | (_spread(ijk[:, 1]) << 1) | (_spread(ijk[:, 2]) << 2)


def spatial_order(pos: Tensor, batch: Tensor, cell: float) -> Tensor:
    """A permutation of the nodes sorted by graph, then by Morton code of cubes of side ``cell``.

    ``batch`` stays sorted under it (the nodes of each graph remain one block).

    Shapes:
        pos ``[N, 3]``, batch ``[N]`` -> ``[N]`` long (new position -> old node id).
    """
    codes = morton_codes(pos, cell)
    first = torch.sort(codes, stable=True).indices
    second = torch.sort(batch[first], stable=True).indices
    return first[second]
