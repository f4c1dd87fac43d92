r"""The fused, chunked message sum of the separable group convolutions with an exact kernel.

For features ``f [N, O, C]`` on the nodes of a graph with edges ``j -> i`` (``src[e] = j``,
``dst[e] = i``) and a kernel ``k = basis @ weight^T`` (``basis [E, O, K]``),

.. math::
    g(i, o, c) = \sum_{e:\, dst_e = i} f(src_e, o, c)\, k(e, o, c),

the spatial step of :class:`regconv.nn.SeparableGroupConv`, without ever materialising an
``[E, O, C]`` tensor: edges are processed in chunks of about ``chunk_rows`` (edge, orientation)
rows, and the backward pass recomputes the per-chunk kernel instead of storing it. Memory is
``O(N O C + chunk)`` on top of the inputs, and the working set of a chunk stays in cache.
:func:`kernel_message_sum` is bitwise the same arithmetic as the unfused
``scatter_sum(f[src] * (basis @ weight^T), dst)`` up to the blocking of the matrix product (float
round-off), and differentiable twice (its backward is written in differentiable operations).

The tabulated kernel's message sum is :mod:`regconv.ops.table_message`. :func:`edge_chunks` is
the chunking both use (and :func:`regconv.kernels.tabulate`, which builds the weights chunk by
chunk).
"""

from __future__ import annotations

import torch
from torch import Tensor

#: default number of (edge, orientation) rows per chunk: a [rows, 128] fp32 block is 8 MiB.
#: At the PONITA size (BENCHMARKS.md, "Release 0.4") 16,384 rows trained faster than 8,192 (fewer
#: calls per layer) at the same peak memory; 32,768 was faster still but raised the peak.
DEFAULT_CHUNK_ROWS = 16384


def edge_chunks(num_edges: int, rows_per_edge: int, chunk_rows: int) -> list[tuple[int, int]]:
    """Consecutive edge ranges ``[(a, b), ...]`` of about ``chunk_rows`` (edge, fibre) rows."""
    step = max(1, int(chunk_rows) // max(1, rows_per_edge))
    return [(a, min(num_edges, a + step)) for a in range(0, num_edges, step)]


def _under_autocast(apply, *args, dtype: torch.dtype | None = None):
    """Run a fused function on one dtype: under ``torch.autocast`` its floating-point inputs are
    cast to ``dtype`` and autocast is off inside, so that no op sees mixed dtypes; otherwise the
    inputs pass as they are. ``dtype`` None: the autocast dtype (bfloat16 or float16: the
    products then run in it). ``torch.float32``: the fused sums, which autocast keeps in float32
    as it does its own (on CPUs the native kernels then apply); float64 inputs stay float64."""
    device = next(a for a in args if isinstance(a, Tensor)).device.type
    if not torch.is_autocast_enabled(device):
        return apply(*args)
    target = dtype or torch.get_autocast_dtype(device)
    keep = (torch.float64,) if target == torch.float32 else ()  # no narrowing to a sum's dtype
    cast = [
        a.to(target) if isinstance(a, Tensor) and a.is_floating_point() and a.dtype not in keep
        else a
        for a in args
    ]  # fmt: skip
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
