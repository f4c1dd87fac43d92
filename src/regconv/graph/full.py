r"""Fully connected graphs within each graph of a batch, and the batch helpers of ``regconv.graph``.

Convention (shared by every function of :mod:`regconv.graph`): ``edge_index[0] = src j``,
``edge_index[1] = dst i``, messages flow ``j -> i``, and edges are sorted lexicographically by
``(dst i, src j)``.

``batch`` must be sorted (non-decreasing), as PyG produces it: the nodes of one graph are then a
contiguous block, which is what makes block-diagonal construction cheap. Graph ids may have gaps
(an id with no node is an empty graph).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _empty_edges(device: torch.device | None = None) -> Tensor:
    return torch.empty((2, 0), dtype=torch.long, device=device)


def _check_batch(batch: object, num_nodes: int | None, device: torch.device | None) -> Tensor:
    """Validate a ``batch`` vector and return it as ``long``.

    Requires a 1-D integer tensor (``num_nodes`` entries when given), non-negative, sorted
    (non-decreasing) and on ``device`` (when given).
    """
    if not isinstance(batch, Tensor):
        raise ValueError(f"batch must be a torch.Tensor, got {type(batch).__name__}")
    if batch.dim() != 1:
        raise ValueError(f"batch must be 1-D [N], got shape {tuple(batch.shape)}")
    if num_nodes is not None and batch.shape[0] != num_nodes:
        raise ValueError(
            f"batch has {batch.shape[0]} entries but there are {num_nodes} nodes; they must match"
        )
    if batch.dtype == torch.bool or batch.is_floating_point() or batch.is_complex():
        raise ValueError(f"batch must be an integer (long) tensor, got dtype {batch.dtype}")
    if device is not None and batch.device != device:
        raise ValueError(f"batch is on {batch.device} but pos is on {device}; they must match")
    batch = batch.long()
    if batch.numel() > 0:
        if bool(batch[0] < 0):
            raise ValueError("batch contains negative graph ids")
        if bool((batch[1:] < batch[:-1]).any()):
            raise ValueError(
                "batch must be sorted (non-decreasing, as PyG produces it): the nodes of each "
                "graph must form one contiguous block"
            )
    return batch


def _node_blocks(batch: Tensor) -> tuple[Tensor, Tensor]:
    """For a sorted ``batch`` return, per node, the first node and the size of its graph.

    Shapes:
        batch ``[N]`` long (sorted) -> (block start ``[N]`` long, block size ``[N]`` long).
    """
    _, inverse, counts = torch.unique_consecutive(batch, return_inverse=True, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    return starts[inverse], counts[inverse]


def _expand_ranges(starts: Tensor, counts: Tensor) -> tuple[Tensor, Tensor]:
    r"""Enumerate the integer ranges ``[starts[r], starts[r] + counts[r])`` in order.

    Returns ``(rid, value)`` with one entry per element of the concatenated ranges: ``rid`` is the
    range the element belongs to (non-decreasing) and ``value`` the element itself. Cost and
    memory are linear in ``R + counts.sum()``; no Python loop.

    Shapes:
        starts ``[R]`` long, counts ``[R]`` long (>= 0) -> (rid ``[T]``, value ``[T]``),
        ``T = counts.sum()``.
    """
    total = int(counts.sum())
    num = counts.shape[0]
    rid = torch.repeat_interleave(
        torch.arange(num, device=counts.device), counts, output_size=total
    )
    # value = starts[rid] + (t - first_t[rid]) = t + (starts - first_t)[rid]
    shift = starts - (torch.cumsum(counts, 0) - counts)
    value = torch.arange(total, device=counts.device) + shift[rid]
    return rid, value


def _pieces(counts: Tensor, budget: int) -> list[tuple[int, int]]:
    """Split ``range(len(counts))`` into contiguous pieces of total ``counts`` about ``budget``.

    Each piece holds at most ``budget`` plus one item's count (an item is never split), so
    the work done per piece is bounded by ``budget + counts.max()``.
    """
    n = counts.shape[0]
    if n == 0:
        return []
    before = torch.cumsum(counts, 0) - counts
    group = torch.div(before, max(int(budget), 1), rounding_mode="floor")
    sizes = torch.unique_consecutive(group, return_counts=True)[1].tolist()
    out = []
    lo = 0
    for size in sizes:
        out.append((lo, lo + size))
        lo += size
    return out


def full_graph(batch: Tensor, loop: bool = False) -> Tensor:
    r"""All ordered pairs of nodes of the same graph: the complete graph of each graph of a batch.

    .. math::
        \mathcal{E} = \{(j, i) : \mathrm{batch}_j = \mathrm{batch}_i,\ j \ne i\}

    (``j = i`` included when ``loop=True``). A graph of ``n`` nodes contributes ``n (n - 1)``
    edges (``n^2`` with loops). Edges are sorted by ``(dst i, src j)``; ``edge_index[0]`` is the
    source ``j`` and ``edge_index[1]`` the destination ``i`` (messages flow ``j -> i``). Cost and
    memory are linear in the number of edges (no ``N x N`` matrix over the whole batch).

    Args:
        batch: graph id of every node. Must be sorted (non-decreasing, as PyG produces it);
            a ``ValueError`` is raised otherwise. Ids may have gaps (empty graphs).
        loop: include the self-loops ``(i, i)``.

    Shapes:
        - ``batch``: ``[N]`` long
        - output ``edge_index``: ``[2, E]`` long, ``E = sum_b n_b (n_b - 1)`` (``+ N`` with loops)
    """
    if not isinstance(loop, bool):
        raise ValueError(f"loop must be a bool, got {type(loop).__name__}")
    batch = _check_batch(batch, None, None)
    if batch.numel() == 0:
        return _empty_edges(batch.device)
    start, size = _node_blocks(batch)  # [N], [N]
    degree = size if loop else size - 1
    dst, src = _expand_ranges(start, degree)  # [E], [E]
    if not loop:
        # src runs over start .. start + size - 2; skip the node itself.
        src = src + (src >= dst).long()
    return torch.stack([src, dst], dim=0)
