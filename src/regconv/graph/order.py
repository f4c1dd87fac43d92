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


class NodeOrder:
    """A renumbering of the nodes of a batch for message passing, and its undoing.

    ``apply`` maps node-level tensors to the new order, ``restore`` maps them back and
    ``restore_edges`` relabels an ``edge_index`` built on the new order with the input's node ids
    (edges keep their order, so edge-level tensors need nothing). :meth:`for_graph` renumbers
    large radius graphs along a Z-order curve (:func:`spatial_order`) and leaves small or full
    graphs as they are (the identity order, whose methods return their argument).

    Shapes:
        order ``[N]`` long (new position -> node id) or None (identity).
    """

    #: radius graphs with at least this many nodes are processed in Z-order
    MIN_NODES = 4096

    def __init__(self, order: Tensor | None = None) -> None:
        self.order = order
        self._inverse = None if order is None else torch.argsort(order)

    @classmethod
    def for_graph(cls, pos: Tensor, batch: Tensor, cutoff: float | None) -> NodeOrder:
        """Z-order within cubes of side ``cutoff`` for radius graphs of at least
        :attr:`MIN_NODES` nodes; the identity otherwise."""
        if cutoff is None or pos.shape[0] < cls.MIN_NODES:
            return cls(None)
        return cls(spatial_order(pos, batch, cutoff))

    @property
    def is_identity(self) -> bool:
        return self.order is None

    def apply(self, t: Tensor) -> Tensor:
        """Node-level ``[N, ...]`` in input order -> in the new order."""
        return t if self.order is None else t.index_select(0, self.order)

    def restore(self, t: Tensor) -> Tensor:
        """Node-level ``[N, ...]`` in the new order -> in input order."""
        return t if self._inverse is None else t.index_select(0, self._inverse)

    def restore_edges(self, edge_index: Tensor) -> Tensor:
        """``[2, E]`` with new node ids -> the same edges with the input's node ids."""
        return edge_index if self.order is None else self.order[edge_index]
