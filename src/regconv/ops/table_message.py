r"""The message sum of a tabulated kernel: one partial derivative of a trilinear form, so that
every derivative of it (forces, and the loss on forces) runs the same fused kernels.

For a :class:`TablePlan` (edges ``src_e = j -> dst_e = i``; ``cells [E, O, Q]``, the table rows
of the ``Q`` interpolation nodes of every (edge, orientation)),

.. math::
    \Phi(g, x, T, w) = \sum_{e, o, q, c} g[\mathrm{dst}_e, o, c]\; x[\mathrm{src}_e, o, c]\;
        w[e, o, q]\; T[\mathrm{cells}[e, o, q], c]

is linear in each of the node features at the destinations ``g [N, O, C]``, those at the
sources ``x [N, O, C]``, the table ``T [G, C]`` and the interpolation weights ``w [E, O, Q]``.
The message sum of the tabulated kernel ``k(e, o) = sum_q w[e, o, q] T[cells[e, o, q]]`` is its
partial derivative in ``g`` at ``x = f``:

.. math::
    \mathrm{out}(i, o, c) = \sum_{e:\, dst_e = i} f(src_e, o, c)\, k(e, o, c)
        = \partial\Phi / \partial g.

Every partial derivative of ``Phi`` is linear in the other three operands, and its gradients
are again partial derivatives of ``Phi``: for the partial in slot ``s`` and an upstream gradient
``u`` shaped like slot ``s``, the gradient in slot ``t`` is ``dPhi/dt`` with ``u`` in slot
``s``. So the backward pass of a force (``create_graph``) and the backward pass of a loss on the
forces run the four kernels of the forward and backward passes with the roles swapped:

- ``dPhi/dg``: the message sum along the edges (native ``table_forward``: edges grouped by
  destination, each thread owning its output rows);
- ``dPhi/dx`` (the message sum against the edges), ``dPhi/dT`` (the table's gradient) and
  ``dPhi/dw`` (the weights'): native ``table_backward``, one walk over the edges grouped by
  source for any of the three; the table's gradient alone walks the pairs sorted by table row.

:class:`TableProduct` is that partial as an autograd function: its backward calls the kernels
directly when no graph is recorded, and itself (one node per needed slot) when one is, so the
message sum is differentiable to any order. A gradient that leads nowhere the running backward
pass needs is not computed (the table's in a force pass ``dE/dpos``: it depends on the weights
only). On CPUs in float32 and float64 the kernels are native (:mod:`regconv.ops.native`, the
message sums walk each edge once with no ``[E, O, C]`` buffer). Under ``torch.autocast`` the sum
runs in float32, its inputs cast (autocast keeps its own sums in float32), so natively on CPUs
too. Elsewhere (GPUs, bfloat16 inputs outside autocast, without a compiler) the chunked
PyTorch code here computes them, and the tests hold the two to each other and check the first
and second derivatives against finite differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F
from torch import Tensor

from regconv.ops import native
from regconv.ops.message import DEFAULT_CHUNK_ROWS, _check, _under_autocast, edge_chunks

__all__ = ["SLOTS", "TablePlan", "TableProduct", "table_message_sum", "table_partials"]

#: the operands of the trilinear form, in the order of :func:`table_partials`
SLOTS = ("g", "x", "table", "weights")

#: take the native CPU kernels where they apply (tests switch it off to compare with PyTorch)
_NATIVE = True


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
    def dst_csr(self) -> tuple[Tensor, Tensor]:
        """The edges grouped by destination, ``(order [E], ptr [N + 1])`` with ``N`` the largest
        node named plus one (:func:`regconv.ops.native.edge_csr`): the walk of the message sum
        along the edges, shared by the layers."""
        return native.edge_csr(self.dst.long(), self.index_range[1] + 1)

    @cached_property
    def src_csr(self) -> tuple[Tensor, Tensor]:
        """The edges grouped by source (the walk of the gradients), as :attr:`dst_csr`."""
        return native.edge_csr(self.src.long(), self.index_range[1] + 1)

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


def table_partials(
    need: Sequence[bool], operands: Sequence[Tensor | None], plan: TablePlan, num_rows: int
) -> list[Tensor | None]:
    """The partial derivatives of ``Phi`` in the slots where ``need`` is True, at ``operands``
    ``(g, x, table, weights)`` (a needed slot's own operand is not read and may be None; no
    graph is recorded). ``num_rows`` is the table's ``G`` (the table itself may be the slot).

    Shapes:
        g, x ``[N, O, C]``; table ``[G, C]``; weights ``[E, O, Q]`` -> the same shapes.
    """
    g, x, table, w = operands
    present = [t for t in operands if t is not None]
    if (
        _NATIVE
        and all(t.dtype == present[0].dtype for t in present)
        and native.usable(x if x is not None else g, table, w, plan.cells, plan.src, plan.dst)
    ):
        return _native_partials(need, *operands, plan, num_rows)
    return _torch_partials(need, *operands, plan, num_rows)


def _native_partials(need, g, x, table, w, plan, num_rows) -> list[Tensor | None]:
    out: list[Tensor | None] = [None, None, None, None]
    if need[0]:
        out[0] = native.table_forward(x, table, w, plan.cells, plan.src, plan.dst, plan.dst_csr)
    if any(need[1:]):
        out[1:] = native.table_backward(
            x, table, w, plan.cells, plan.src, plan.dst, g, tuple(need[1:]),
            lambda: plan.cell_pairs, plan.src_csr, num_rows,
        )  # fmt: skip
    return out


def _torch_partials(need, g, x, table, w, plan, num_rows) -> list[Tensor | None]:
    """The partials in chunked PyTorch (the reference of the native kernels)."""
    out: list[Tensor | None] = [None, None, None, None]
    q = plan.cells.shape[2]
    ref = x if x is not None else g
    if need[0]:
        out[0] = torch.zeros_like(x)
    if need[1]:
        out[1] = torch.zeros_like(g)
    if need[2]:
        out[2] = ref.new_zeros(num_rows, ref.shape[2])
    if need[3]:
        out[3] = ref.new_empty(plan.cells.shape)
    with torch.no_grad():
        for i, (a, b) in enumerate(plan.chunks):
            cells = plan.cells[a:b].reshape(-1, q)
            src, dst = plan.src[a:b], plan.dst[a:b]
            wc = w[a:b].reshape(-1, q) if w is not None else None
            if need[0] or need[1]:
                ker = F.embedding_bag(cells, table, per_sample_weights=wc, mode="sum")  # [Rc, C]
                ker = ker.view(b - a, -1, table.shape[1])  # [Ec, O, C]
                if need[0]:
                    out[0].index_add_(0, dst, x.index_select(0, src).mul_(ker))
                if need[1]:
                    out[1].index_add_(0, src, g.index_select(0, dst).mul_(ker))
            if need[2] or need[3]:
                dk = g.index_select(0, dst).mul_(x.index_select(0, src))  # [Ec, O, C]
                dk = dk.view(-1, dk.shape[2])  # [Rc, C]
                if need[2]:
                    if w is plan.constant_weights and plan.sorted_weights is not None:
                        ws = plan.sorted_weights[i]  # shared by the layers
                    else:
                        ws = wc.reshape(-1)[plan.order[i]]
                    bags = F.embedding_bag(
                        plan.rows[i], dk, plan.offsets[i], per_sample_weights=ws, mode="sum"
                    )  # [U, C] summed per table row
                    out[2].index_add_(0, plan.unique[i], bags)
                if need[3]:
                    rows = table.index_select(0, cells.reshape(-1)).view(-1, q, table.shape[1])
                    out[3][a:b] = (rows * dk.unsqueeze(1)).sum(-1).view(b - a, -1, q)
    return out


def _will_run(ctx, position: int | None) -> bool:
    """Whether the running backward pass needs the gradient of the tensor input at
    ``position`` (counted among the tensor inputs): False where its graph leads nowhere the
    pass was asked for (``autograd.grad`` of the positions skips the table's)."""
    if position is None:
        return False
    try:
        node = ctx.next_functions[position][0]
        return node is not None and torch._C._will_engine_execute_node(node)
    except (RuntimeError, IndexError, AttributeError):
        return True  # a leaf under autograd.grad: the engine cannot tell, so compute it


class TableProduct(torch.autograd.Function):
    """``dPhi/d(slot)`` at the three other operands (the slot's own operand is None; see the
    module docstring): ``TableProduct.apply(0, None, f, table, weights, plan, G)`` is the
    message sum. Differentiable to any order."""

    @staticmethod
    def forward(ctx, slot, g, x, table, weights, plan, num_rows):
        operands = (g, x, table, weights)
        ctx.slot, ctx.plan, ctx.num_rows = slot, plan, num_rows
        positions, k = [], 0
        for t in operands:  # each operand's index among the tensor inputs
            positions.append(k if isinstance(t, Tensor) else None)
            k += isinstance(t, Tensor)
        ctx.positions = positions
        ctx.save_for_backward(*operands)
        need = [k == slot for k in range(4)]
        return table_partials(need, operands, plan, num_rows)[slot]

    @staticmethod
    def backward(ctx, upstream):
        operands = list(ctx.saved_tensors)
        dtype = next(t for t in operands if t is not None).dtype
        operands[ctx.slot] = upstream.to(dtype).contiguous()
        need = [
            k != ctx.slot and ctx.needs_input_grad[1 + k] and _will_run(ctx, ctx.positions[k])
            for k in range(4)
        ]
        if torch.is_grad_enabled():  # a graph is recorded (forces): one node per slot
            grads = [
                TableProduct.apply(
                    k, *[None if i == k else t for i, t in enumerate(operands)], ctx.plan,
                    ctx.num_rows,
                ) if need[k] else None
                for k in range(4)
            ]  # fmt: skip
        else:
            grads = table_partials(need, operands, ctx.plan, ctx.num_rows)
        return (None, *grads, None, None)


def _message_sum(f: Tensor, table: Tensor, weights: Tensor, plan: TablePlan) -> Tensor:
    return TableProduct.apply(0, None, f, table, weights, plan, table.shape[0])


def table_message_sum(f: Tensor, table: Tensor, weights: Tensor, plan: TablePlan) -> Tensor:
    r"""``g[i] = sum_{e: dst_e = i} f[src_e] * sum_q weights[e, :, q] table[cells[e, :, q]]``:
    ``dPhi/dg`` at ``x = f`` (:class:`TableProduct`), differentiable to any order; in float32
    under ``torch.autocast``.

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
    return _under_autocast(_message_sum, f, table, weights, plan, dtype=torch.float32)
