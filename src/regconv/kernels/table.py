r"""Tabulated kernel bases: evaluate the kernel-basis MLP on a grid of invariants, interpolate.

The spatial kernel of a separable convolution is a smooth function of ``D <= 2`` invariants
(``|x_ij|`` on R^3; ``(n_o . x_ij, |x_ij ⊥ n_o|)`` on R^3 x S^2) evaluated at every (edge,
orientation) — ``E O`` rows, the bulk of the cost of an exact forward pass (an MLP of width
``K`` and a ``K x C`` map per layer at every row). A :class:`TabulatedBasis` instead evaluates
the basis MLP at the nodes of a regular grid of step ``h`` over the invariants that occur, and
every layer maps the ``G`` node values (``G << E O``) to its channels; each (edge, orientation)
then reads its kernel by multilinear interpolation of the ``2^D`` surrounding nodes (a weighted
gather, :func:`regconv.ops.table_message_sum`).

The result is the same model (same parameters, same ``state_dict``) with its kernel replaced by
the piecewise-multilinear interpolant of the exact kernel: the error is ``O(h^2)`` (about
``h^2 / 8`` times the second derivative of the kernel), the grid is anchored at the origin (node
``m`` sits at invariant value ``m h``), so a molecule's output does not depend on the rest of its
batch, and the model keeps every exact symmetry of the exact kernel (translations,
permutations, rotations that map the orientation grid to itself). Gradients reach every
parameter; gradients with respect to positions exist but are those of the interpolant
(piecewise constant in the invariants for the multilinear one).

Four orders (:data:`ORDERS`): ``"linear"`` (above); two C¹ ones whose forces are continuous
(energy + force training): ``"cubic"``, Catmull-Rom in each invariant (interpolates the
node values, ``4^D`` nodes per row), and ``"quadratic"``, the quadratic B-spline in each
invariant on coefficients that are the node values filtered by ``(-1, 10, -1) / 8`` per
dimension (a quasi-interpolant: it reproduces quadratics, so its error is ``O(h^3)`` like the
cubic one's, from ``3^D`` nodes per row: 9 instead of 16 gathers on R^3 x S^2); and one C²
one, ``"cubic_bspline"``, the cubic B-spline on the node values filtered by ``(-1, 8, -1) / 6``
(a quasi-interpolant exact on cubics, error ``O(h^4)``, ``4^D`` nodes per row), whose forces
are continuously differentiable as well: the C¹ tables' force derivatives jump at every grid
line, which costs velocity Verlet its second-order accuracy each time a pair crosses one
(energy drift in NVE; BENCHMARKS.md), the C² table's do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from regconv.ops import DEFAULT_CHUNK_ROWS, TablePlan, edge_chunks


@dataclass(frozen=True)
class TabulatedBasis:
    """A kernel basis given by its values at grid nodes and per-row interpolation weights.

    The grid has ``grid_size`` nodes (a box over the invariants that occur, node ``m`` of
    dimension ``k`` at invariant value ``(lo_k + m) * step``); the basis is evaluated only at
    the ``G`` nodes that some row uses (``nodes``), and the rows read those directly: the
    plan's ``cells`` index ``values`` (and any per-node table computed from it, ``[G, C]``).

    Attributes:
        values: basis at the used nodes, ``[G, K]`` (for the quadratic order: the B-spline
            coefficients there, the node values filtered by ``(-1, 10, -1) / 8`` per dimension).
        nodes: their flat indices in the grid, ``[G]`` long.
        grid_size: number of grid nodes.
        weights: interpolation weights times the envelope, ``[E, O, Q]`` (``Q = 2^D``, ``3^D``
            or ``4^D`` for the linear, quadratic and cubic orders).
        plan: ``cells [E, O, Q]``, the rows of ``values`` each (edge, orientation) reads.
        step: grid step in invariant units.
    """

    values: Tensor
    nodes: Tensor
    grid_size: int
    weights: Tensor
    plan: TablePlan
    step: float

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of the dense basis it stands for, ``(E, O, K)``."""
        e, o, _ = self.weights.shape
        return (e, o, self.values.shape[1])

    def dense(self) -> Tensor:
        """The interpolated basis as a dense ``[E, O, K]`` tensor (for readouts that need it)."""
        e, o, q = self.weights.shape
        out = F.embedding_bag(
            self.plan.cells.reshape(-1, q),
            self.values,
            per_sample_weights=self.weights.reshape(-1, q),
            mode="sum",
        )
        return out.view(e, o, self.values.shape[1])  # K explicit: E may be 0


#: interpolation orders: nodes per dimension, and the offsets of the grid's first and last nodes
#: from the base nodes of the lowest and highest rows (the node below a point; for "quadratic" the
#: nearest node; the B-splines with one more node of margin on each side for the coefficient
#: filter)
ORDERS = {
    "linear": (2, 0, 1),
    "quadratic": (3, -2, 2),
    "cubic": (4, -1, 2),
    "cubic_bspline": (4, -2, 3),
}

#: orders whose interpolant is C¹ in the invariants (continuous forces)
SMOOTH_ORDERS = ("quadratic", "cubic", "cubic_bspline")

#: orders whose interpolant is C² (continuous force derivatives: energy-conserving MD)
C2_ORDERS = ("cubic_bspline",)

#: B-spline orders: their coefficients are the node values filtered by these taps per dimension
#: (quasi-interpolants that reproduce polynomials of the spline's degree)
_FILTER_TAPS = {"quadratic": (-0.125, 1.25, -0.125), "cubic_bspline": (-1 / 6, 8 / 6, -1 / 6)}


def catmull_rom(t: Tensor) -> Tensor:
    """Weights ``[..., 4]`` of the nodes at offsets -1, 0, 1, 2 for a point at ``t`` in
    ``[0, 1)`` of its cell: the cubic convolution kernel (Catmull-Rom), which interpolates the
    node values, reproduces quadratics and is C¹ across cells."""
    t2, t3 = t * t, t * t * t
    return 0.5 * torch.stack(
        [-t3 + 2 * t2 - t, 3 * t3 - 5 * t2 + 2, -3 * t3 + 4 * t2 + t, t3 - t2], dim=-1
    )


def quadratic_bspline(t: Tensor) -> Tensor:
    """Weights ``[..., 3]`` of the nodes at offsets -1, 0, 1 for a point at ``t`` in
    ``[-1/2, 1/2)`` from its nearest node: the uniform quadratic B-spline (C¹, partition of unity,
    weights in [0, 1])."""
    return torch.stack([0.5 * (0.5 - t) ** 2, 0.75 - t * t, 0.5 * (0.5 + t) ** 2], dim=-1)


def cubic_bspline(t: Tensor) -> Tensor:
    """Weights ``[..., 4]`` of the nodes at offsets -1, 0, 1, 2 for a point at ``t`` in
    ``[0, 1)`` of its cell: the uniform cubic B-spline (C², partition of unity, weights in
    [0, 1])."""
    s = 1 - t
    t2, t3 = t * t, t * t * t
    return torch.stack(
        [s * s * s, 3 * t3 - 6 * t2 + 4, -3 * t3 + 3 * t2 + 3 * t + 1, t3], dim=-1
    ) / 6


def _quasi_interpolate(
    values: Tensor, evaluated: Tensor, nodes: Tensor, size: list[int], order: str = "quadratic"
) -> Tensor:
    """The coefficients of a B-spline quasi-interpolant at the used ``nodes`` ``[G]`` (flat grid
    indices): node values filtered by the order's taps (:data:`_FILTER_TAPS`: ``(-1, 10, -1) /
    8`` for the quadratic, ``(-1, 8, -1) / 6`` for the cubic B-spline) along each dimension, a
    ``3^D``-point stencil over the node values ``values [G', K]`` known at the ``evaluated``
    nodes ``[G']`` (which hold every used node's neighbours). One weighted gather-sum over the
    used rows (an embedding bag): no dense ``[prod(size), K]`` grid, forward or backward."""
    taps = torch.tensor(_FILTER_TAPS[order], dtype=values.dtype, device=values.device)
    offsets = torch.zeros(1, dtype=torch.long, device=nodes.device)
    coef = torch.ones(1, dtype=values.dtype, device=values.device)
    stride = 1
    for n in reversed(size):  # the last dimension is contiguous in the flat index
        step = torch.tensor([-stride, 0, stride], dtype=torch.long, device=nodes.device)
        offsets = (offsets.unsqueeze(0) + step.unsqueeze(1)).reshape(-1)
        coef = (coef.unsqueeze(0) * taps.unsqueeze(1)).reshape(-1)
        stride *= n
    row_of = torch.full((stride,), -1, dtype=torch.long, device=nodes.device)
    row_of[evaluated] = torch.arange(evaluated.numel(), device=nodes.device)
    rows = row_of[nodes.unsqueeze(1) + offsets]  # [G, 3^D] rows of values
    weights = coef.expand(nodes.numel(), -1)
    return F.embedding_bag(rows, values, per_sample_weights=weights, mode="sum")  # [G, K]


def _dilate(mask: Tensor, size: list[int], backward: bool) -> Tensor:
    """The flat grid mask ``[prod(size)]`` grown by one node along each dimension in turn: towards
    higher indices (the box ``{0, 1}^D`` after every marked node), and with ``backward`` also
    towards lower ones (the box ``{-1, 0, 1}^D``)."""
    grid = mask.view(size)
    for k, n in enumerate(size):
        grown = grid.clone()
        grown.narrow(k, 1, n - 1).logical_or_(grid.narrow(k, 0, n - 1))
        if backward:
            grown.narrow(k, 0, n - 1).logical_or_(grid.narrow(k, 1, n - 1))
        grid = grown
    return grid.reshape(-1)


def _cells_weights(
    u: Tensor, lo: Tensor, n1: int, itype: torch.dtype, env: Tensor | None, order: str = "linear"
):
    """Grid nodes ``[Ec, O, Q]`` and interpolation weights of points ``u`` (in grid units)."""
    if order == "quadratic":
        below = (u.detach() + 0.5).floor()  # the nearest node (batch-independent)
    else:
        below = u.detach().floor()  # grid value of the node below (batch-independent)
    frac = u - below  # in [0, 1) ([-1/2, 1/2) for quadratic), differentiable in u
    base = (below - lo).to(itype)  # index of that node in this grid
    if order in SMOOTH_ORDERS:
        if order in ("cubic", "cubic_bspline"):
            weigh = catmull_rom if order == "cubic" else cubic_bspline
            offsets = torch.arange(-1, 3, dtype=itype, device=u.device)
        else:
            offsets, weigh = torch.arange(-1, 2, dtype=itype, device=u.device), quadratic_bspline
        w0, c0 = weigh(frac[..., 0]), base[..., :1] + offsets  # [.., P]
        if u.shape[-1] == 1:
            cells, weights = c0, w0
        else:
            w1, c1 = weigh(frac[..., 1]), base[..., 1:] + offsets
            cells = (c0.unsqueeze(-1) * n1 + c1.unsqueeze(-2)).flatten(-2)  # [.., P^2]
            weights = (w0.unsqueeze(-1) * w1.unsqueeze(-2)).flatten(-2)
    elif u.shape[-1] == 1:
        b0, t0 = base[..., 0], frac[..., 0]
        cells = torch.stack([b0, b0 + 1], dim=-1)
        weights = torch.stack([1 - t0, t0], dim=-1)
    else:
        c00 = base[..., 0] * n1 + base[..., 1]
        cells = torch.stack([c00, c00 + 1, c00 + n1, c00 + n1 + 1], dim=-1)
        t0, t1 = frac[..., 0], frac[..., 1]
        weights = torch.stack([(1 - t0) * (1 - t1), (1 - t0) * t1, t0 * (1 - t1), t0 * t1], dim=-1)
    if env is not None:
        weights = weights * env.view(-1, 1, 1)
    return cells, weights


def tabulate(
    basis_fn,
    invariants: Tensor,
    step: float,
    src: Tensor,
    dst: Tensor,
    envelope: Tensor | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    order: str = "linear",
) -> TabulatedBasis:
    r"""Tabulate ``basis_fn`` (e.g. a :class:`regconv.kernels.KernelBasis`) over ``invariants``.

    Node indices and weights are built chunk by chunk (the working set stays in cache on large
    graphs), unless the invariants or the envelope need a gradient, in which case the weights
    are built in one differentiable pass.

    Args:
        basis_fn: ``[*, D] -> [*, K]``.
        invariants: ``[E, O, D]`` with ``D`` in ``{1, 2}``.
        step: grid step ``h`` in the units of ``invariants`` (positive).
        src, dst: ``[E]`` edge endpoints (messages ``src -> dst``).
        envelope: optional ``[E]`` factor per edge (a cutoff envelope), folded into the weights.
        order: ``"linear"`` (multilinear in the ``2^D`` nodes of the cell: error ``O(h^2)``,
            gradients piecewise constant in the invariants), ``"quadratic"`` or ``"cubic"`` (C¹,
            so forces are continuous and exactly minus the gradient of the tabulated energy) or
            ``"cubic_bspline"`` (C²); see the module docstring.

    Shapes:
        -> a :class:`TabulatedBasis` standing for ``[E, O, K]``.
    """
    if invariants.dim() != 3 or invariants.shape[-1] not in (1, 2):
        raise ValueError(
            f"tabulation needs invariants [E, O, D] with D in (1, 2), got {tuple(invariants.shape)}"
        )
    if not (step > 0 and math.isfinite(step)):
        raise ValueError(f"the table step must be finite and positive, got {step}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {sorted(ORDERS)}, got {order!r}")
    per_dim, first, last = ORDERS[order]
    shift = 0.5 if order == "quadratic" else 0.0  # base node: nearest, else the one below
    e, o, d = invariants.shape
    q = per_dim**d
    dev, dtype = invariants.device, invariants.dtype
    if e == 0:
        empty = torch.zeros(0, o, q, dtype=dtype, device=dev)
        values = basis_fn(torch.zeros(0, d, dtype=dtype, device=dev))
        nodes = torch.zeros(0, dtype=torch.long, device=dev)
        plan = TablePlan.build(src, dst, empty.long(), chunk_rows)
        return TabulatedBasis(values, nodes, 0, empty, plan, float(step))
    lo, hi = [], []
    with torch.no_grad():
        for k in range(d):
            # the base nodes by the very arithmetic of _cells_weights (in the invariants' dtype):
            # a box from float64 arithmetic could miss a row whose quotient rounds up in float32
            u = invariants[..., k] / step
            mn, mx = torch.aminmax((u + shift).floor() if shift else u.floor())
            lo.append(int(mn) + first)
            hi.append(int(mx) + last)
    size = [h_ - l_ + 1 for l_, h_ in zip(lo, hi, strict=True)]  # nodes per dimension
    total = math.prod(size)
    n1 = size[1] if d == 2 else 1
    itype = torch.int32 if total < 2**31 - 1 and e * o * q < 2**31 - 1 else torch.long
    lo_t = torch.tensor(lo, dtype=dtype, device=dev)
    grad = torch.is_grad_enabled() and (
        invariants.requires_grad or (envelope is not None and envelope.requires_grad)
    )
    # A node is used if some row reads it: smooth orders' rows mark all their nodes, linear rows
    # their cell's lower corner (the other corners are added by a dilation below).
    lower = torch.zeros(total, dtype=torch.bool, device=dev)

    def mark(c: Tensor) -> None:
        lower.index_fill_(0, (c if order in SMOOTH_ORDERS else c[..., 0]).reshape(-1).long(), True)

    if grad:
        cells, weights = _cells_weights(invariants / step, lo_t, n1, itype, envelope, order)
        mark(cells)
    else:
        cells = torch.empty(e, o, q, dtype=itype, device=dev)
        weights = torch.empty(e, o, q, dtype=dtype, device=dev)
        for a, b in edge_chunks(e, o, chunk_rows):
            env = envelope[a:b] if envelope is not None else None
            c, w = _cells_weights(invariants[a:b] / step, lo_t, n1, itype, env, order)
            cells[a:b] = c
            weights[a:b] = w
            mark(c)
    # linear: add the other corners of the marked lower ones
    used = _dilate(lower, size, backward=False) if order == "linear" else lower
    nodes = used.nonzero().squeeze(1)  # [G] flat grid indices, in grid order
    # the rows read the used nodes' values directly: grid index -> row of values
    row_of = torch.full((total,), -1, dtype=itype, device=dev)
    row_of[nodes] = torch.arange(nodes.numel(), dtype=itype, device=dev)
    cells = torch.index_select(row_of, 0, cells.reshape(-1)).view(e, o, q)
    constant = None if grad else weights
    plan = TablePlan.build(src, dst, cells, chunk_rows, constant_weights=constant)

    def coords(flat: Tensor) -> Tensor:  # flat grid indices [G] -> invariants [G, D]
        if d == 1:
            return (flat.to(dtype) + lo[0]).unsqueeze(1) * step
        i0 = torch.div(flat, n1, rounding_mode="floor")
        return torch.stack([(i0 + lo[0]).to(dtype), (flat - i0 * n1 + lo[1]).to(dtype)], -1) * step

    if order not in _FILTER_TAPS:
        values = basis_fn(coords(nodes))  # [G, K]
        return TabulatedBasis(values, nodes, total, weights, plan, float(step))
    # The B-spline coefficients at the used nodes filter the basis over their neighbours: evaluate
    # it on the used nodes dilated by one in each dimension (inside the grid's margin).
    evaluated = _dilate(used, size, backward=True).nonzero().squeeze(1)  # [G'] flat indices
    at_nodes = basis_fn(coords(evaluated))  # [G', K]
    values = _quasi_interpolate(at_nodes, evaluated, nodes, size, order)  # [G, K]
    return TabulatedBasis(values, nodes, total, weights, plan, float(step))
