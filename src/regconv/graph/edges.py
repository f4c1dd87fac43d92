r"""Edge-to-edge pairs (DimeNet-style triplets) of a directed graph.

A pair ``(a, b)`` is two directed edges ``a = (k -> j)`` and ``b = (j -> i)`` that meet at the
middle node ``j``, with ``k != i``; messages flow from edge ``a`` to edge ``b``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.graph.full import _empty_edges, _expand_ranges


def _check_edge_index(edge_index: object, num_nodes: object) -> tuple[Tensor, int]:
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int):
        raise ValueError(f"num_nodes must be an int, got {type(num_nodes).__name__}")
    if num_nodes < 0:
        raise ValueError(f"num_nodes must be non-negative, got {num_nodes}")
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"edge_index must be a torch.Tensor, got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.shape[0] != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {tuple(edge_index.shape)}")
    if edge_index.dtype == torch.bool or edge_index.is_floating_point() or edge_index.is_complex():
        raise ValueError(f"edge_index must be an integer (long) tensor, got {edge_index.dtype}")
    edge_index = edge_index.long()
    if edge_index.numel() > 0:
        lo, hi = int(edge_index.min()), int(edge_index.max())
        if lo < 0 or hi >= num_nodes:
            raise ValueError(
                f"edge_index has node ids in [{lo}, {hi}] but num_nodes={num_nodes}: "
                f"ids must lie in [0, num_nodes)"
            )
    return edge_index, num_nodes


def edge_pairs(edge_index: Tensor, num_nodes: int, shift: Tensor | None = None) -> Tensor:
    r"""All pairs of directed edges ``a = (k -> j)``, ``b = (j -> i)`` with ``k != i`` (triplets).

    .. math::
        \mathcal{T} = \{(a, b) : \mathrm{dst}(a) = \mathrm{src}(b),\
        \mathrm{src}(a) \ne \mathrm{dst}(b)\}

    where ``src(e) = edge_index[0, e]`` and ``dst(e) = edge_index[1, e]``. Row 0 of the output is
    the source-edge id ``a`` (``k -> j``), row 1 the destination-edge id ``b`` (``j -> i``);
    messages flow from edge ``a`` to edge ``b``. Pairs are sorted by ``(b, a)``. Self-loops and
    repeated edges are treated as ordinary edges (the rule ``k != i`` is applied literally, so an
    edge is never paired with itself).

    In a periodic graph (``shift [E, 3]``, the integer lattice shift of each edge) the rule is
    on images: ``k`` seen from ``i`` is the image ``x_k + (S_a + S_b) cell``, which is ``i``
    itself only when ``k = i`` and ``S_a + S_b = 0``; other images of ``i`` pair.

    Vectorised: for every edge ``b`` the incoming edges of ``src(b)`` are enumerated from a
    counting sort of the edges by destination. Cost and memory are linear in
    ``E + num_nodes + T + R``, with ``R`` the number of rejected ``k = i`` candidates (at most one
    per edge, the reverse edge, in a graph without repeated edges).

    Args:
        edge_index: directed edges, ``edge_index[0] = src``, ``edge_index[1] = dst``.
        num_nodes: number of nodes; ids must lie in ``[0, num_nodes)``.
        shift: the integer lattice shift ``S`` of each edge of a periodic graph (None: a
            molecule).

    Shapes:
        - ``edge_index``: ``[2, E]`` long; ``shift``: ``[E, 3]`` long (None: a molecule)
        - output: ``[2, T]`` long (row 0: edge ``k -> j``, row 1: edge ``j -> i``)
    """
    edge_index, num_nodes = _check_edge_index(edge_index, num_nodes)
    if edge_index.shape[1] == 0:
        return _empty_edges(edge_index.device)
    src, dst = edge_index[0], edge_index[1]  # [E], [E]
    # Incoming edges of every node, in increasing edge id (stable sort by destination).
    incoming = torch.sort(dst, stable=True).indices  # [E]
    in_degree = torch.bincount(dst, minlength=num_nodes)  # [num_nodes]
    in_start = torch.cumsum(in_degree, 0) - in_degree  # [num_nodes]
    # For edge b = (j -> i): candidates a are the incoming edges of j.
    b, slot = _expand_ranges(in_start[src], in_degree[src])  # [T'], [T']
    a = incoming[slot]
    keep = src[a] != dst[b]
    if shift is not None:
        if tuple(shift.shape) != (edge_index.shape[1], 3):
            raise ValueError(f"shift must have shape [E, 3] = [{edge_index.shape[1]}, 3]")
        keep |= (shift.index_select(0, a) + shift.index_select(0, b) != 0).any(dim=1)
    return torch.stack([a[keep], b[keep]], dim=0)
