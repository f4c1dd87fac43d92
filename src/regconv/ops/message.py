r"""Fused, chunked message sums of the separable group convolutions (exact and tabulated kernels).

Both functions compute, for features ``f [N, O, C]`` on the nodes of a graph with edges ``j -> i``
(``src[e] = j``, ``dst[e] = i``),

.. math::
    g(i, o, c) = \sum_{e:\, dst_e = i} f(src_e, o, c)\, k(e, o, c),

the spatial step of :class:`regconv.nn.SeparableGroupConv`, without ever materialising an
``[E, O, C]`` tensor: edges are processed in chunks of about ``chunk_rows`` (edge, orientation)
rows, and the backward pass recomputes the per-chunk kernel instead of storing it. Memory is
``O(N O C + chunk)`` on top of the inputs, and the working set of a chunk stays in cache.

- :func:`kernel_message_sum`: ``k = basis @ weight^T`` (the exact kernel; ``basis [E, O, K]``).
  Bitwise the same arithmetic as the unfused ``scatter_sum(f[src] * (basis @ weight^T), dst)``
  up to the blocking of the matrix product (float round-off). Differentiable twice (the
  backward is written in differentiable operations), so force training through it works.
- :func:`table_message_sum`: ``k(e, o) = sum_q w[e, o, q] table[cells[e, o, q]]`` (a kernel
  interpolated from a table of its values on a grid of invariants; see
  :class:`regconv.kernels.TabulatedBasis`). On CPUs, in float32 and float64, its value and
  first derivatives come from the fused C++ kernel of :mod:`regconv.ops.native` (one pass over
  the edges, no chunk buffers; built on first use); elsewhere, and for the second derivatives
  of force training, from the chunked PyTorch code here, which the tests hold it to.

:func:`edge_chunks` is the chunking both use (and :func:`regconv.kernels.tabulate`, which builds
the weights chunk by chunk).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from regconv.ops import native

#: take the native CPU kernels where they apply (tests switch it off to compare with PyTorch)
_NATIVE = True

#: default number of (edge, orientation) rows per chunk: a [rows, 128] fp32 block is 8 MiB.
#: At the PONITA size (BENCHMARKS.md, "Release 0.4") 16,384 rows trained faster than 8,192 (fewer
#: calls per layer) at the same peak memory; 32,768 was faster still but raised the peak.
DEFAULT_CHUNK_ROWS = 16384


def edge_chunks(num_edges: int, rows_per_edge: int, chunk_rows: int) -> list[tuple[int, int]]:
    """Consecutive edge ranges ``[(a, b), ...]`` of about ``chunk_rows`` (edge, fibre) rows."""
    step = max(1, int(chunk_rows) // max(1, rows_per_edge))
    return [(a, min(num_edges, a + step)) for a in range(0, num_edges, step)]


def _under_autocast(apply, *args):
    """Run a fused function on one dtype: under ``torch.autocast`` its floating-point inputs are
    cast to the autocast dtype (bfloat16 or float16: the products then run in it) and autocast is
    off inside, so that no op sees mixed dtypes; otherwise the inputs pass as they are."""
    device = next(a for a in args if isinstance(a, Tensor)).device.type
    if not torch.is_autocast_enabled(device):
        return apply(*args)
    dtype = torch.get_autocast_dtype(device)
    cast = [a.to(dtype) if isinstance(a, Tensor) and a.is_floating_point() else a for a in args]
    with torch.autocast(device, enabled=False):
        return apply(*cast)


def _check(f: Tensor, src: Tensor, dst: Tensor, num_edges: int, num_fibre: int) -> None:
    if f.dim() != 3:
        raise ValueError(f"f must be [N, O, C], got shape {tuple(f.shape)}")
    if src.dim() != 1 or dst.dim() != 1 or src.shape[0] != num_edges or dst.shape[0] != num_edges:
        raise ValueError(
            f"src and dst must be [E] with E = {num_edges}, "
            f"got {tuple(src.shape)} and {tuple(dst.shape)}"
        )
    if f.shape[1] != num_fibre:
        raise ValueError(f"f has {f.shape[1]} orientations but the kernel has {num_fibre}")


class _KernelMessageSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, f, basis, weight, src, dst, chunk_rows):
        n, o, c = f.shape
        e, _, k = basis.shape
        out = f.new_zeros(n, o, c)
        wt = weight.t()
        for a, b in edge_chunks(e, o, chunk_rows):
            ker = torch.mm(basis[a:b].reshape(-1, k), wt).view(b - a, o, c)  # [Ec, O, C]
            msg = f.index_select(0, src[a:b]).mul_(ker)
            out.index_add_(0, dst[a:b], msg)
        ctx.save_for_backward(f, basis, weight, src, dst)
        ctx.chunk_rows = chunk_rows
        return out

    @staticmethod
    def backward(ctx, dout):
        # Written in differentiable operations so that double backward (forces) works.
        f, basis, weight, src, dst = ctx.saved_tensors
        need_f, need_basis, need_weight = ctx.needs_input_grad[:3]
        n, o, c = f.shape
        e, _, k = basis.shape
        df = torch.zeros_like(f) if need_f else None
        dbasis = torch.empty_like(basis) if need_basis else None
        dweight = torch.zeros_like(weight) if need_weight else None  # [C, K]
        wt = weight.t()
        for a, b in edge_chunks(e, o, ctx.chunk_rows):
            bc = basis[a:b].reshape(-1, k)  # [Rc, K]
            g = dout.index_select(0, dst[a:b])  # [Ec, O, C]
            if need_f:
                ker = torch.mm(bc, wt).view(b - a, o, c)
                df.index_add_(0, src[a:b], g * ker)
            if need_basis or need_weight:
                dk = (g * f.index_select(0, src[a:b])).view(-1, c)  # [Rc, C]
                if need_weight:
                    dweight = dweight + dk.t() @ bc  # (out of place: FLOP counters see it)
                if need_basis:
                    dbasis[a:b] = (dk @ weight).view(b - a, o, k)
        return df, dbasis, dweight, None, None, None


def kernel_message_sum(
    f: Tensor,
    src: Tensor,
    dst: Tensor,
    basis: Tensor,
    weight: Tensor,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Tensor:
    r"""``g[i] = sum_{e: dst_e = i} f[src_e] * (basis_e @ weight^T)``, fused and chunked.

    Shapes:
        f ``[N, O, C]``; src, dst ``[E]`` long; basis ``[E, O, K]``; weight ``[C, K]`` (an
        ``nn.Linear(K, C).weight``) -> ``[N, O, C]``.
    """
    _check(f, src, dst, basis.shape[0], basis.shape[1])
    if weight.shape != (f.shape[2], basis.shape[2]):
        raise ValueError(
            f"weight must be [C, K] = {(f.shape[2], basis.shape[2])}, got {tuple(weight.shape)}"
        )
    return _under_autocast(_KernelMessageSum.apply, f, basis, weight, src, dst, int(chunk_rows))


@dataclass(frozen=True)
class TablePlan:
    """Index structures of a tabulated kernel, shared by every layer of a forward pass.

    ``cells [E, O, Q]`` are the table rows of the ``Q`` interpolation nodes of every (edge,
    orientation). The PyTorch backward pass also needs, for each chunk of edges, the pairs
    ``(row, q)`` sorted by table row (``rows``, ``offsets``, ``order``, ``unique``: the gradient
    of the table becomes a gather-sum, an embedding bag, instead of a scatter), and, where the
    interpolation weights are constants of the pass (``constant_weights``, no gradient), those
    weights in that order (``sorted_weights``, one gather shared by the layers). Both are built
    on first use, so a pass that takes the native kernels never builds them.
    """

    src: Tensor
    dst: Tensor
    cells: Tensor
    chunks: tuple[tuple[int, int], ...]
    constant_weights: Tensor | None = None

    @staticmethod
    def chunk_index(cells: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``(rows, offsets, order, unique)`` of one chunk's ``cells [Ec, O, Q]`` (see above)."""
        q = cells.shape[-1]
        itype = cells.dtype
        flat = cells.reshape(-1)  # [Rc * Q]
        perm = torch.sort(flat, stable=True)
        uniq, counts = torch.unique_consecutive(perm.values, return_counts=True)
        idx = perm.indices.to(itype)
        rows = torch.div(idx, q, rounding_mode="floor")
        return rows, (torch.cumsum(counts, 0) - counts).to(itype), idx, uniq.long()

    @cached_property
    def _chunk_indices(self) -> tuple[tuple[Tensor, Tensor, Tensor, Tensor], ...]:
        return tuple(TablePlan.chunk_index(self.cells[a:b]) for a, b in self.chunks)

    @property
    def rows(self) -> tuple[Tensor, ...]:
        return tuple(p[0] for p in self._chunk_indices)

    @property
    def offsets(self) -> tuple[Tensor, ...]:
        return tuple(p[1] for p in self._chunk_indices)

    @property
    def order(self) -> tuple[Tensor, ...]:
        return tuple(p[2] for p in self._chunk_indices)

    @property
    def unique(self) -> tuple[Tensor, ...]:
        return tuple(p[3] for p in self._chunk_indices)

    @cached_property
    def index_range(self) -> tuple[int, int, int, int]:
        """``(smallest, largest)`` node index in ``src``/``dst`` and ``(smallest, largest)``
        table row in ``cells`` (``(0, -1)`` for an empty one): checked once per forward pass
        against the features and the table of every layer."""
        nodes, rows = torch.cat([self.src, self.dst]), self.cells.reshape(-1)
        lo_n, hi_n = (int(v) for v in torch.aminmax(nodes)) if nodes.numel() else (0, -1)
        lo_r, hi_r = (int(v) for v in torch.aminmax(rows)) if rows.numel() else (0, -1)
        return lo_n, hi_n, lo_r, hi_r

    @cached_property
    def cell_pairs(self) -> tuple[Tensor, Tensor]:
        """The (edge, orientation) pairs sorted by their first table row (native backward
        pass: :func:`regconv.ops.native.cell_order`), built on first use and shared by the
        layers of a forward pass."""
        return native.cell_order(self.cells, self.index_range[3] + 1)

    @cached_property
    def sorted_weights(self) -> tuple[Tensor, ...] | None:
        if self.constant_weights is None:
            return None
        w, pairs = self.constant_weights, zip(self.chunks, self.order, strict=True)
        return tuple(w[a:b].reshape(-1)[o] for (a, b), o in pairs)

    @staticmethod
    def build(
        src: Tensor,
        dst: Tensor,
        cells: Tensor,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        constant_weights: Tensor | None = None,
    ) -> TablePlan:
        if cells.dim() != 3 or cells.shape[0] != src.shape[0]:
            raise ValueError(
                f"cells must be [E, O, Q] with E = {src.shape[0]}, got {tuple(cells.shape)}"
            )
        if constant_weights is not None and constant_weights.shape != cells.shape:
            raise ValueError("constant_weights must have the shape of cells")
        e, o, q = cells.shape
        # int32 indices where they fit (half the memory; embedding_bag and indexing take them)
        small = cells.numel() < 2**31 - 1 and (cells.numel() == 0 or int(cells.max()) < 2**31 - 1)
        cells = cells.to(torch.int32 if small else torch.long)
        chunks = tuple(edge_chunks(e, o, chunk_rows))
        return TablePlan(src, dst, cells, chunks, constant_weights)


class _TableMessageSum(torch.autograd.Function):
    # Per-chunk work buffers are allocated once per call and reused (out=): fresh multi-MB
    # allocations would otherwise cost page faults chunk after chunk.
    @staticmethod
    def forward(ctx, f, table, weights, plan):
        ctx.save_for_backward(f, table, weights)
        ctx.plan = plan
        ctx.native = _NATIVE and native.usable(f, table, weights, plan.cells, plan.src, plan.dst)
        if ctx.native:
            return native.table_forward(f, table, weights, plan.cells, plan.src, plan.dst)
        n, o, c = f.shape
        q = plan.cells.shape[2]
        out = f.new_zeros(n, o, c)
        width = max((b - a for a, b in plan.chunks), default=0)
        buf = f.new_empty(width, o, c)
        for a, b in plan.chunks:
            ker = F.embedding_bag(
                plan.cells[a:b].reshape(-1, q),
                table,
                per_sample_weights=weights[a:b].reshape(-1, q),
                mode="sum",
            )  # [Rc, C]
            msg = torch.index_select(f, 0, plan.src[a:b], out=buf[: b - a]).mul_(
                ker.view(b - a, o, c)
            )
            out.index_add_(0, plan.dst[a:b], msg)
        return out

    @staticmethod
    def backward(ctx, dout):
        if torch.is_grad_enabled():  # create_graph (training on forces): differentiable ops
            return _table_backward_differentiable(ctx, dout)
        return _TableMessageSum._backward(ctx, dout)

    @staticmethod
    @once_differentiable
    def _backward(ctx, dout):
        f, table, weights = ctx.saved_tensors
        plan = ctx.plan
        need_f, need_table, need_weights = ctx.needs_input_grad[:3]
        if ctx.native and dout.dtype == f.dtype:
            return (*native.table_backward(
                f, table, weights, plan.cells, plan.src, plan.dst, dout, ctx.needs_input_grad[:3],
                lambda: plan.cell_pairs,
            ), None)  # fmt: skip
        n, o, c = f.shape
        q = plan.cells.shape[2]
        df = torch.zeros_like(f) if need_f else None
        dtable = torch.zeros_like(table) if need_table else None
        dweights = torch.empty_like(weights) if need_weights else None
        dout = dout.contiguous()
        width = max((b - a for a, b in plan.chunks), default=0)
        gbuf, tbuf = f.new_empty(width, o, c), f.new_empty(width, o, c)
        for i, (a, b) in enumerate(plan.chunks):
            cells = plan.cells[a:b].reshape(-1, q)
            w = weights[a:b].reshape(-1, q)
            g = torch.index_select(dout, 0, plan.dst[a:b], out=gbuf[: b - a])  # [Ec, O, C]
            if need_f:
                ker = F.embedding_bag(cells, table, per_sample_weights=w, mode="sum").view(
                    b - a, o, c
                )
                df.index_add_(0, plan.src[a:b], torch.mul(g, ker, out=tbuf[: b - a]))
            if need_table or need_weights:
                dk = g.mul_(torch.index_select(f, 0, plan.src[a:b], out=tbuf[: b - a])).view(
                    -1, c
                )  # [Rc, C]
                if need_table:
                    if plan.sorted_weights is not None and not need_weights:
                        ws = plan.sorted_weights[i]  # shared by the layers
                    else:
                        ws = w.reshape(-1)[plan.order[i]]
                    bags = F.embedding_bag(
                        plan.rows[i], dk, plan.offsets[i], per_sample_weights=ws, mode="sum"
                    )
                    dtable.index_add_(0, plan.unique[i], bags)
                if need_weights:
                    dw = (
                        table.index_select(0, cells.reshape(-1)).view(-1, q, c) * dk.unsqueeze(1)
                    ).sum(-1)
                    dweights[a:b] = dw.view(b - a, o, q)
        return df, dtable, dweights, None


def _table_backward_differentiable(ctx, dout):
    """The backward of :class:`_TableMessageSum` in out-of-place differentiable operations (no
    reused buffers), so that a second derivative exists: what training on forces needs."""
    f, table, weights = ctx.saved_tensors
    plan = ctx.plan
    need_f, need_table, need_weights = ctx.needs_input_grad[:3]
    n, o, c = f.shape
    q = plan.cells.shape[2]
    df = torch.zeros_like(f) if need_f else None
    dtable = torch.zeros_like(table) if need_table else None
    dweights = []
    for i, (a, b) in enumerate(plan.chunks):
        cells = plan.cells[a:b].reshape(-1, q)
        w = weights[a:b].reshape(-1, q)
        g = dout.index_select(0, plan.dst[a:b])  # [Ec, O, C]
        if need_f:
            ker = F.embedding_bag(cells, table, per_sample_weights=w, mode="sum")  # [Rc, C]
            df = df.index_add(0, plan.src[a:b], g * ker.view(b - a, o, c))
        if need_table or need_weights:
            dk = (g * f.index_select(0, plan.src[a:b])).view(-1, c)  # [Rc, C]
            if need_table:
                bags = F.embedding_bag(
                    plan.rows[i],
                    dk,
                    plan.offsets[i],
                    per_sample_weights=w.reshape(-1)[plan.order[i]],
                    mode="sum",
                )
                dtable = dtable.index_add(0, plan.unique[i], bags)
            if need_weights:
                rows = table.index_select(0, cells.reshape(-1)).view(-1, q, c)  # [Rc, Q, C]
                dweights.append((rows * dk.unsqueeze(1)).sum(-1).view(b - a, o, q))
    dw = None
    if need_weights:
        dw = torch.cat(dweights) if dweights else torch.zeros_like(weights)
    return df, dtable, dw, None


def table_message_sum(f: Tensor, table: Tensor, weights: Tensor, plan: TablePlan) -> Tensor:
    r"""``g[i] = sum_{e: dst_e = i} f[src_e] * sum_q weights[e, :, q] table[cells[e, :, q]]``.

    Shapes:
        f ``[N, O, C]``; table ``[G, C]``; weights ``[E, O, Q]``; ``plan`` from
        :meth:`TablePlan.build` -> ``[N, O, C]``.
    """
    _check(f, plan.src, plan.dst, plan.cells.shape[0], plan.cells.shape[1])
    if weights.shape != plan.cells.shape:
        raise ValueError(
            f"weights must have the shape of the plan's cells {tuple(plan.cells.shape)}"
        )
    if table.dim() != 2 or table.shape[1] != f.shape[2]:
        raise ValueError(f"table must be [G, C] with C = {f.shape[2]}, got {tuple(table.shape)}")
    lo_n, hi_n, lo_r, hi_r = plan.index_range
    if lo_n < 0 or hi_n >= f.shape[0]:
        raise ValueError(f"edges name nodes {lo_n}..{hi_n}, but f has {f.shape[0]} nodes")
    if lo_r < 0 or hi_r >= table.shape[0]:
        raise ValueError(
            f"the plan reads table rows {lo_r}..{hi_r}, but the table has {table.shape[0]}"
        )
    return _under_autocast(_TableMessageSum.apply, f, table, weights, plan)
