r"""Radius graphs in plain torch, with no neighbour cap.

Two exact algorithms produce bit-identical results and are chosen by size:

- ``"dense"``: every pair of nodes of the same graph is a candidate (block-diagonal pairs built
  from ``batch``, never an ``N x N`` matrix over the whole batch). Cost ``sum_b n_b^2``; the
  fastest choice for batches of small molecules.
- ``"cell"``: a cell list. Space is cut into cubes of side slightly larger than the cutoff, so
  the neighbours of a point lie in the 27 cubes around its own; the cubes are found by sorting
  integer cell keys, and the 3 cubes along ``z`` of each ``(x, y)`` column are contiguous in that
  order, so every point scans 9 contiguous ranges. Cost linear in ``N`` plus the number of
  candidates (about ``27 / (4 pi / 3) ~ 6.4`` times the number of edges for uniform clouds).

Both enumerate candidate pairs in chunks of bounded size, then keep those within the cutoff with
the same test, :math:`d^2 = (x_j - x_i)^2 + (y_j - y_i)^2 + (z_j - z_i)^2 \le c^2`, evaluated
in ``pos.dtype`` in exactly this order, so the chosen path never changes the result.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from regconv.graph.full import (
    _check_batch,
    _empty_edges,
    _expand_ranges,
    _node_blocks,
    _pieces,
)

# Candidate pairs examined per chunk (working memory ~100 bytes each: ~13 MB).
_CHUNK_CANDIDATES = 1 << 17
# Cells whose 9 neighbour ranges are looked up at once in the cell-list path.
_CELL_BLOCK = 1 << 14
# "auto" uses the dense path while sum_b n_b^2 <= max(_DENSE_MAX_PAIRS, _DENSE_PER_NODE * N),
# i.e. for small inputs and for batches of small graphs (measured crossover on one CPU thread:
# about 300 points for one uniform cloud, graphs of about 128-256 points for batches).
_DENSE_MAX_PAIRS = 1 << 17
_DENSE_PER_NODE = 128
# Largest integer cell-key space (keys are int64); cells are enlarged if it would overflow.
_KEY_LIMIT = 1 << 62

_METHODS = ("auto", "dense", "cell")


def _check_pos(pos: object) -> Tensor:
    if not isinstance(pos, Tensor):
        raise ValueError(f"pos must be a torch.Tensor, got {type(pos).__name__}")
    if pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"pos must have shape [N, 3], got {tuple(pos.shape)}")
    if not pos.is_floating_point():
        raise ValueError(f"pos must be a floating-point tensor, got dtype {pos.dtype}")
    if pos.numel() > 0 and not bool(torch.isfinite(pos).all()):
        raise ValueError("pos contains NaN or Inf values; all coordinates must be finite")
    return pos.detach()


def _check_cutoff(cutoff: object) -> float:
    if isinstance(cutoff, bool):
        raise ValueError("cutoff must be a positive finite number, got a bool")
    try:
        value = float(cutoff)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"cutoff must be a positive finite number, got {type(cutoff).__name__}"
        ) from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"cutoff must be a positive finite number, got {value}")
    return value


def _threshold(cutoff: float, pos: Tensor) -> Tensor:
    """``cutoff**2`` computed in double precision, rounded once to ``pos.dtype``."""
    return torch.tensor(cutoff * cutoff, dtype=pos.dtype, device=pos.device)


def _within(
    src_pos: Tensor, src: Tensor, dst_pos: Tensor, dst: Tensor, threshold: Tensor
) -> Tensor:
    """``|src_pos[src] - dst_pos[dst]|^2 <= threshold`` in the positions' dtype.

    The squared components are summed in the order x, y, z; every path uses this one test.
    """
    d = src_pos.index_select(0, src) - dst_pos.index_select(0, dst)  # [T, 3]
    sq = d * d
    return (sq[:, 0] + sq[:, 1] + sq[:, 2]) <= threshold


def _radius_dense(
    pos: Tensor,
    cutoff: float,
    batch: Tensor,
    loop: bool,
    chunk: int = _CHUNK_CANDIDATES,
) -> Tensor:
    """Block-diagonal brute force: candidates are all pairs of nodes of the same graph.

    Candidates are enumerated in ``(dst, src)`` order, so the output needs no sort.
    """
    if pos.shape[0] == 0:
        return _empty_edges(pos.device)
    start, size = _node_blocks(batch)  # [N], [N]
    threshold = _threshold(cutoff, pos)
    parts = []
    for lo, hi in _pieces(size, chunk):
        rid, src = _expand_ranges(start[lo:hi], size[lo:hi])  # [T], [T]
        dst = rid + lo
        keep = _within(pos, src, pos, dst, threshold)
        if not loop:
            keep &= src != dst
        hit = keep.nonzero().squeeze(1)
        parts.append(torch.stack([src.index_select(0, hit), dst.index_select(0, hit)], dim=0))
    if not parts:
        return _empty_edges(pos.device)
    return torch.cat(parts, dim=1)


def _compress(values: Tensor) -> Tensor:
    """Relabel integers keeping their order and every difference of 0 or 1; larger gaps -> 2.

    Two values are equal / adjacent after compression iff they were before, and the result lies
    in ``[0, 2 (U - 1)]`` for ``U`` distinct values, which keeps cell keys small.
    """
    uniq, inverse = torch.unique(values, sorted=True, return_inverse=True)
    gaps = (uniq[1:] - uniq[:-1]).clamp_max(2)
    relabel = torch.cat([gaps.new_zeros(1), torch.cumsum(gaps, 0)])
    return relabel[inverse]


def _cell_keys(
    pos: Tensor, cutoff: float, batch: Tensor, key_limit: int
) -> tuple[Tensor, int, int]:
    """Integer cell key of every point, and the key strides ``(stride_x, stride_y)``.

    Cells are cubes of side ``s = c (1 + 8 eps) + 8 eps64 L`` (``eps`` of ``pos.dtype``, ``L`` the
    extent of the cloud), so that rounding in the distance test and in the cell coordinates
    (computed in float64) can never put an accepted pair in non-adjacent cells. Integer cell
    coordinates are compressed per axis (the graph id joins the x axis, separated by gaps so
    different graphs are never adjacent) and padded by one, so neighbour keys never alias:
    ``key = (x * Ry + y) * Rz + z``. If the key space would exceed ``key_limit`` (only for clouds
    spread over ~10^6 cells along every axis) the cells are doubled in size until it fits.
    """
    p64 = pos.to(torch.float64)
    rel = p64 - p64.min(dim=0).values  # [N, 3], >= 0
    extent = float(rel.max())
    side = cutoff * (1.0 + 8.0 * torch.finfo(pos.dtype).eps)
    side += 8.0 * torch.finfo(torch.float64).eps * extent
    _, graph = torch.unique_consecutive(batch, return_inverse=True)  # [N], dense graph rank
    while True:
        cells = torch.floor(rel / side).long()  # [N, 3]
        cx = _compress(cells[:, 0])
        cx = _compress(graph * (int(cx.max()) + 3) + cx) + 1
        cy = _compress(cells[:, 1]) + 1
        cz = _compress(cells[:, 2]) + 1
        ry, rz = int(cy.max()) + 2, int(cz.max()) + 2
        # (Once a cell holds the whole cloud the key space is at most 9 (2N + 1).)
        if (int(cx.max()) + 2) * ry * rz <= key_limit or side > extent:
            return (cx * ry + cy) * rz + cz, ry * rz, rz
        side *= 2.0


def _radius_cell(
    pos: Tensor,
    cutoff: float,
    batch: Tensor,
    loop: bool,
    chunk: int = _CHUNK_CANDIDATES,
    cell_block: int = _CELL_BLOCK,
    key_limit: int = _KEY_LIMIT,
) -> Tensor:
    """Cell-list radius graph; same result as :func:`_radius_dense`, linear cost."""
    n = pos.shape[0]
    device = pos.device
    if n == 0:
        return _empty_edges(device)
    key, stride_x, stride_y = _cell_keys(pos, cutoff, batch, key_limit)  # [N]
    order = torch.sort(key, stable=True).indices  # [N] sorted position -> node
    cell_key, cell_size = torch.unique_consecutive(key[order], return_counts=True)  # [M], [M]
    num_cells = cell_key.shape[0]
    cell_start = torch.zeros(num_cells + 1, dtype=torch.long, device=device)
    cell_start[1:] = torch.cumsum(cell_size, 0)
    node_cell = torch.empty(n, dtype=torch.long, device=device)  # [N] cell of each node
    node_cell[order] = torch.repeat_interleave(
        torch.arange(num_cells, device=device), cell_size, output_size=n
    )
    # The 9 (dx, dy) columns around a cell; each spans keys [k + off - 1, k + off + 1], i.e.
    # dz = -1, 0, 1, which are contiguous in sorted order: one range of sorted positions each.
    offsets = torch.tensor(
        [dx * stride_x + dy * stride_y for dx in (-1, 0, 1) for dy in (-1, 0, 1)],
        dtype=torch.long,
        device=device,
    )
    small = torch.int32 if n < 2**31 else torch.long
    range_start = torch.empty((num_cells, 9), dtype=small, device=device)  # [M, 9]
    range_size = torch.empty((num_cells, 9), dtype=small, device=device)  # [M, 9]
    for c0 in range(0, num_cells, cell_block):
        column = cell_key[c0 : c0 + cell_block, None] + offsets  # [Mc, 9]
        first = cell_start[torch.searchsorted(cell_key, column - 1, right=False)]
        last = cell_start[torch.searchsorted(cell_key, column + 1, right=True)]
        range_start[c0 : c0 + cell_block] = first
        range_size[c0 : c0 + cell_block] = last - first
    per_node = range_size.sum(dim=1, dtype=torch.long).index_select(0, node_cell)  # [N]
    sorted_pos = pos.index_select(0, order)  # [N, 3]
    threshold = _threshold(cutoff, pos)
    parts = []
    # Destinations are processed in index order, so sorting each chunk sorts the output.
    for lo, hi in _pieces(per_node, chunk):
        cells = node_cell[lo:hi]
        _, slot = _expand_ranges(
            range_start.index_select(0, cells).reshape(-1).long(),
            range_size.index_select(0, cells).reshape(-1).long(),
        )  # [T] sorted positions of the candidate sources
        dst = torch.repeat_interleave(
            torch.arange(lo, hi, device=device), per_node[lo:hi], output_size=slot.shape[0]
        )  # [T], non-decreasing
        hit = _within(sorted_pos, slot, pos, dst, threshold).nonzero().squeeze(1)
        src = order.index_select(0, slot.index_select(0, hit))
        dst = dst.index_select(0, hit)
        if not loop:
            hit = (src != dst).nonzero().squeeze(1)
            src, dst = src.index_select(0, hit), dst.index_select(0, hit)
        # Sort sources within each destination; dst is already non-decreasing.
        src = torch.sort(dst * n + src).values - dst * n
        parts.append(torch.stack([src, dst], dim=0))
    if not parts:
        return _empty_edges(device)
    return torch.cat(parts, dim=1)


def radius_graph(
    pos: Tensor,
    cutoff: float,
    batch: Tensor | None = None,
    loop: bool = False,
    *,
    method: str = "auto",
) -> Tensor:
    r"""All pairs of points of the same graph within ``cutoff`` of each other; no neighbour cap.

    .. math::
        \mathcal{E} = \{(j, i) : \mathrm{batch}_j = \mathrm{batch}_i,\
        \lVert x_j - x_i \rVert^2 \le c^2,\ j \ne i\}

    (``j = i`` included when ``loop=True``). The cutoff is **inclusive**: a pair at distance
    exactly ``c`` is an edge. The test is evaluated in ``pos.dtype`` as
    ``(x_j - x_i)^2 + (y_j - y_i)^2 + (z_j - z_i)^2 <= c^2``, summed in that order, where ``c^2``
    is computed in double precision and rounded once to ``pos.dtype``; the graph is exactly
    symmetric. Coincident points (distance 0) are connected to each other; a point is connected to
    itself only when ``loop=True``.

    Convention: ``edge_index[0]`` is the source ``j``, ``edge_index[1]`` the destination ``i``;
    messages flow ``j -> i``. Edges are sorted lexicographically by ``(dst i, src j)``; the order
    is deterministic. Every neighbour is kept (unlike ``torch_cluster.radius_graph``, which keeps
    at most ``max_num_neighbors=32`` by default).

    Algorithm (see the module docstring): ``"dense"`` enumerates all pairs inside each graph
    (``sum_b n_b^2`` candidates, fastest for batches of small molecules); ``"cell"`` uses a cell
    list (cost linear in ``N`` plus the number of edges); ``"auto"`` picks ``"dense"`` when
    ``sum_b n_b^2 <= max(2^17, 128 N)`` (small inputs, batches of small graphs) and ``"cell"``
    otherwise. All give identical output. Candidates are processed in chunks of about ``2^17``
    pairs, so the memory used is the output (twice, while the chunks are concatenated), plus
    ``O(N)``, plus about 15 MB.

    Args:
        pos: point coordinates, finite, floating point.
        cutoff: the radius ``c``; a finite number ``> 0`` whose square is finite in ``pos.dtype``.
        batch: graph id of every point, sorted (non-decreasing, as PyG produces it); ``None``
            means one graph. Only points of the same graph are connected.
        loop: include the self-loops ``(i, i)``.
        method: ``"auto"``, ``"dense"`` or ``"cell"``.

    Raises:
        ValueError: ``pos`` not a finite floating ``[N, 3]`` tensor ("pos contains NaN or Inf"),
            bad ``cutoff``, ``batch`` not an integer ``[N]`` tensor, negative or unsorted.

    Shapes:
        - ``pos``: ``[N, 3]``
        - ``batch``: ``[N]`` long (optional)
        - output ``edge_index``: ``[2, E]`` long, on ``pos.device``
    """
    pos = _check_pos(pos)
    cutoff = _check_cutoff(cutoff)
    if not isinstance(loop, bool):
        raise ValueError(f"loop must be a bool, got {type(loop).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if not bool(torch.isfinite(_threshold(cutoff, pos))):
        raise ValueError(
            f"cutoff**2 = {cutoff * cutoff} overflows pos.dtype={pos.dtype}; use a wider dtype"
        )
    n = pos.shape[0]
    if batch is None:
        batch = torch.zeros(n, dtype=torch.long, device=pos.device)
    else:
        batch = _check_batch(batch, n, pos.device)
    if n == 0:
        return _empty_edges(pos.device)
    if method == "auto":
        counts = torch.unique_consecutive(batch, return_counts=True)[1]
        pairs = int((counts * counts).sum())
        method = "dense" if pairs <= max(_DENSE_MAX_PAIRS, _DENSE_PER_NODE * n) else "cell"
    if method == "dense":
        return _radius_dense(pos, cutoff, batch, loop)
    return _radius_cell(pos, cutoff, batch, loop)
