"""ctypes bindings of the fused tabulated message sum (``table_message.cpp``).

The kernels take contiguous CPU tensors of one floating dtype (float32 or float64), table rows
as int32 or int64, and edges as int64; :func:`usable` says whether a call qualifies, and
:func:`edge_csr` gives the edge grouping the kernels walk. They do not check indices:
:func:`regconv.ops.table_message_sum` checks the plan's node and row ranges before calling
them.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import torch
from torch import Tensor

from regconv.ops.native._build import load
from regconv.ops.native._build import pointer as _p

#: memory for the per-thread copies of the table's gradient; beyond it the backward pass takes
#: fewer threads (a large table on many cores)
PRIVATE_BYTES = 256 * 2**20

_SUFFIX = {
    (torch.float32, torch.int32): "f32_i32",
    (torch.float32, torch.int64): "f32_i64",
    (torch.float64, torch.int32): "f64_i32",
    (torch.float64, torch.int64): "f64_i64",
}


def usable(
    f: Tensor | None, table: Tensor | None, weights: Tensor | None, cells: Tensor, *edges: Tensor
) -> bool:
    """Whether the native kernels take these operands (and are available): all on the CPU, one
    floating dtype, a known index type, not empty, and not while ``torch.compile`` traces. The
    operand a call computes the gradient of may be None (at least one of the three is given)."""
    floats = [t for t in (f, table, weights) if t is not None]
    channels = [t.shape[-1] for t in (f, table) if t is not None]
    return (
        bool(floats)
        and all(t.device.type == "cpu" for t in (*floats, cells, *edges))
        and all(t.dtype == floats[0].dtype for t in floats)
        and (floats[0].dtype, cells.dtype) in _SUFFIX
        and all(c > 0 for c in channels)
        and cells.shape[-1] > 0
        and not torch.compiler.is_compiling()
        and load() is not None
    )


def edge_csr(key: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """``(order [E], ptr [N + 1])``: ``order[ptr[i]:ptr[i + 1]]`` are the edges with ``key == i``
    (in their original order)."""
    sorted_key, order = torch.sort(key, stable=True)
    nodes = torch.arange(num_nodes + 1, dtype=sorted_key.dtype, device=key.device)
    return order, torch.searchsorted(sorted_key, nodes)


def backward_threads(table_bytes: int) -> int:
    """Threads of a backward pass whose table gradient takes ``table_bytes`` per thread: torch's
    thread count, fewer where their private copies would exceed :data:`PRIVATE_BYTES`."""
    return max(1, min(torch.get_num_threads(), PRIVATE_BYTES // max(1, table_bytes)))


def table_forward(
    f: Tensor,
    table: Tensor,
    weights: Tensor,
    cells: Tensor,
    src: Tensor,
    dst: Tensor,
    dst_csr: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """``out[i, o] = sum_{e: dst_e = i} f[src_e, o] * sum_q weights[e, o, q] table[cells[e, o, q]]``
    in one pass over the edges grouped by destination (no ``[E, O, C]`` intermediate;
    ``dst_csr``: :func:`edge_csr` of ``dst``, made here when not given).

    Shapes:
        f ``[N, O, C]``; table ``[G, C]``; weights, cells ``[E, O, Q]``; src, dst ``[E]``
        -> ``[N, O, C]``.
    """
    n, o, c = f.shape
    q = cells.shape[2]
    f, table, weights = f.contiguous(), table.contiguous(), weights.contiguous()
    cells, src = cells.contiguous(), src.contiguous().long()
    order, ptr = dst_csr if dst_csr is not None else edge_csr(dst.long(), n)
    if ptr.numel() < n + 1:  # nodes after the last one an edge names receive nothing
        ptr = torch.cat([ptr, ptr[-1:].expand(n + 1 - ptr.numel())])
    out = torch.empty_like(f)
    fn = getattr(load(), f"regconv_table_forward_{_SUFFIX[(f.dtype, cells.dtype)]}")
    fn(_p(f), _p(table), _p(weights), _p(cells), _p(src), _p(order), _p(ptr), _p(out),
       ctypes.c_int64(n), ctypes.c_int64(o), ctypes.c_int64(c), ctypes.c_int64(q),
       ctypes.c_int(torch.get_num_threads()))  # fmt: skip
    return out


#: node counts with a compiled table-gradient kernel (others take the generic loop)
SORTED_Q = (2, 3, 4, 9, 16)


def cell_order(cells: Tensor, num_rows: int) -> tuple[Tensor, Tensor]:
    """The walk of the table-gradient kernel: ``(pairs [E * O], same [E * O])``, the (edge,
    orientation) pairs ``r = e * O + o`` sorted by their first table row ``cells[e, o, 0]``
    (stable), and whether each has all the ``Q`` rows of the one before it.

    Shapes:
        cells ``[E, O, Q]`` int32/int64, rows below ``num_rows`` -> ``[E * O]`` int64,
        ``[E * O]`` bool.
    """
    q = cells.shape[-1]
    num = cells.numel() // q if q else 0
    cells = cells.contiguous()
    count = torch.empty(num_rows + 1, dtype=torch.long)
    pairs = torch.empty(num, dtype=torch.long)
    same = torch.empty(num, dtype=torch.bool)
    suffix = "i32" if cells.dtype == torch.int32 else "i64"
    getattr(load(), f"regconv_cell_order_{suffix}")(
        _p(cells), ctypes.c_int64(num), ctypes.c_int64(q), ctypes.c_int64(num_rows), _p(count),
        _p(pairs), _p(same), ctypes.c_int(torch.get_num_threads()),
    )  # fmt: skip
    return pairs, same


def table_backward(
    f: Tensor | None,
    table: Tensor | None,
    weights: Tensor | None,
    cells: Tensor,
    src: Tensor,
    dst: Tensor,
    dout: Tensor,
    need: tuple[bool, bool, bool],
    cell_pairs: Callable[[], tuple[Tensor, Tensor]] | None = None,
    src_csr: tuple[Tensor, Tensor] | None = None,
    num_rows: int | None = None,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients ``(df, dtable, dweights)`` of :func:`table_forward` for the upstream ``dout``
    (``None`` where ``need`` says not needed; an operand only a not-needed gradient reads may be
    None: ``f`` for ``df`` alone, ``table`` for ``dtable`` alone, which then takes its ``G``
    from ``num_rows``, ``weights`` for ``dweights`` alone). With ``cell_pairs`` (giving
    :func:`cell_order` of ``cells``, called only where it is used: the weights need no gradient
    and ``Q`` is one of :data:`SORTED_Q`), the table's gradient is summed in that order, a run
    of pairs with the same table rows at a time, in a pass of its own. ``src_csr``:
    :func:`edge_csr` of ``src``, made here when not given."""
    n, o, c = dout.shape
    q = cells.shape[2]
    g = table.shape[0] if table is not None else int(num_rows)
    contig = lambda t: t.contiguous() if t is not None else None  # noqa: E731
    f, table, weights = contig(f), contig(table), contig(weights)
    cells, dst, dout = cells.contiguous(), dst.contiguous().long(), dout.contiguous()
    suffix = _SUFFIX[(dout.dtype, cells.dtype)]
    sorted_grad = need[1] and not need[2] and cell_pairs is not None and q in SORTED_Q
    threads = backward_threads(g * c * dout.element_size()) if need[1] else torch.get_num_threads()
    private = dout.new_empty(threads, g, c) if need[1] else None  # one table gradient per thread
    df = dout.new_empty(n, o, c) if need[0] else None
    dweights = dout.new_empty(cells.shape) if need[2] else None
    if need[0] or (need[1] and not sorted_grad) or need[2]:
        order, ptr = src_csr if src_csr is not None else edge_csr(src.long(), n)
        if ptr.numel() < n + 1:  # nodes after the last one an edge names send nothing
            ptr = torch.cat([ptr, ptr[-1:].expand(n + 1 - ptr.numel())])
        fn = getattr(load(), f"regconv_table_backward_{suffix}")
        fn(_p(f), _p(table), _p(weights), _p(cells), _p(dst), _p(order), _p(ptr), _p(dout),
           _p(df), _p(None if sorted_grad else private), _p(dweights), ctypes.c_int64(n),
           ctypes.c_int64(o), ctypes.c_int64(c), ctypes.c_int64(q), ctypes.c_int64(g),
           ctypes.c_int(threads))  # fmt: skip
    if sorted_grad:
        fn = getattr(load(), f"regconv_table_grad_sorted_{suffix}")
        fn.restype = ctypes.c_bool
        order, same = cell_pairs()
        done = fn(_p(f), _p(weights), _p(cells), _p(src.contiguous().long()), _p(dst), _p(order),
                  _p(same), _p(dout), _p(private), ctypes.c_int64(order.numel()),
                  ctypes.c_int64(o), ctypes.c_int64(c), ctypes.c_int64(q), ctypes.c_int64(g),
                  ctypes.c_int(threads))  # fmt: skip
        if not done:  # SORTED_Q lists the compiled node counts
            raise RuntimeError(f"no compiled table-gradient kernel for Q = {q}")
    dtable = None
    if private is not None:
        dtable = private[0] if threads == 1 else private.sum(0)
    return df, dtable, dweights
