r"""Tabulated kernel bases: evaluate the kernel-basis MLP on a grid of invariants, interpolate.

The spatial kernel of a separable convolution is a smooth function of ``D <= 2`` invariants
(``|x_ij|`` on R^3; ``(n_o . x_ij, |x_ij ⊥ n_o|)`` on R^3 x S^2) evaluated at every (edge,
orientation) — ``E O`` rows, the bulk of the cost of an exact forward pass (an MLP of width
``K`` and a ``K x C`` map per layer at every row). A :class:`TabulatedBasis` instead evaluates
the basis MLP at the nodes of a regular grid of step ``h`` over the invariants that occur, and
every layer maps the ``G`` node values (``G << E O``) to its channels; each (edge, orientation)
then reads its kernel by multilinear interpolation of the ``2^D`` surrounding nodes (a weighted
gather, :func:`regconv.ops.message.table_message_sum`).

The result is the same model (same parameters, same ``state_dict``) with its kernel replaced by
the piecewise-multilinear interpolant of the exact kernel: the error is ``O(h^2)`` (about
``h^2 / 8`` times the second derivative of the kernel), the grid is anchored at the origin (node
``m`` sits at invariant value ``m h``), so a molecule's output does not depend on the rest of its
batch, and the model keeps every exact symmetry of the exact kernel (translations,
permutations, rotations that map the orientation grid to itself). Gradients reach every
parameter; gradients with respect to positions exist but are those of the interpolant
(piecewise constant in the invariants), so use the exact kernel to train on forces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from regconv.ops.message import DEFAULT_CHUNK_ROWS, TablePlan


@dataclass(frozen=True)
class TabulatedBasis:
    """A kernel basis given by its values at grid nodes and per-row interpolation weights.

    Attributes:
        values: basis at the ``G`` grid nodes that some row uses, ``[G, K]``.
        weights: multilinear interpolation weights times the envelope, ``[E, O, Q]``
            (``Q = 2^D``).
        plan: node indices ``cells [E, O, Q]`` and the per-chunk index structures.
        step: grid step in invariant units.
    """

    values: Tensor
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
        out = F.embedding_bag(self.plan.cells.reshape(-1, q), self.values,
                              per_sample_weights=self.weights.reshape(-1, q), mode="sum")
        return out.view(e, o, -1)


def tabulate(
    basis_fn,
    invariants: Tensor,
    step: float,
    src: Tensor,
    dst: Tensor,
    envelope: Tensor | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> TabulatedBasis:
    r"""Tabulate ``basis_fn`` (e.g. a :class:`regconv.nn.KernelBasis`) over ``invariants``.

    Args:
        basis_fn: ``[*, D] -> [*, K]``.
        invariants: ``[E, O, D]`` with ``D`` in ``{1, 2}``.
        step: grid step ``h`` in the units of ``invariants`` (positive).
        src, dst: ``[E]`` edge endpoints (messages ``src -> dst``).
        envelope: optional ``[E]`` factor per edge (a cutoff envelope), folded into the weights.

    Shapes:
        -> a :class:`TabulatedBasis` standing for ``[E, O, K]``.
    """
    if invariants.dim() != 3 or invariants.shape[-1] not in (1, 2):
        raise ValueError(f"tabulation needs invariants [E, O, D] with D in (1, 2), got {tuple(invariants.shape)}")
    if not (step > 0 and math.isfinite(step)):
        raise ValueError(f"the table step must be finite and positive, got {step}")
    e, o, d = invariants.shape
    dev, dtype = invariants.device, invariants.dtype
    if e == 0:
        empty = torch.zeros(0, o, 2**d, dtype=dtype, device=dev)
        values = basis_fn(torch.zeros(0, d, dtype=dtype, device=dev))
        plan = TablePlan.build(src, dst, empty.long(), chunk_rows)
        return TabulatedBasis(values, empty, plan, float(step))
    u = invariants / step  # [E, O, D] in grid units (node m sits at m * step)
    ud = u.detach()
    lo = ud.reshape(-1, d).amin(0).floor()  # [D] first node
    hi = ud.reshape(-1, d).amax(0).floor() + 1.0  # [D] last node (>= lo + 1)
    size = (hi - lo + 1.0).long()  # [D] nodes per dimension
    below = ud.floor()  # [E, O, D] grid value of the node below (hi > below, so never clamped)
    frac = u - below  # [E, O, D] in [0, 1), differentiable in the invariants, batch-independent
    base = (below - lo).long()  # [E, O, D] its index in the grid of this batch
    if d == 1:
        cells = torch.stack([base[..., 0], base[..., 0] + 1], dim=-1)  # [E, O, 2]
        weights = torch.stack([1.0 - frac[..., 0], frac[..., 0]], dim=-1)
    else:
        n1 = int(size[1])
        c00 = base[..., 0] * n1 + base[..., 1]
        cells = torch.stack([c00, c00 + 1, c00 + n1, c00 + n1 + 1], dim=-1)  # [E, O, 4]
        t0, t1 = frac[..., 0], frac[..., 1]
        weights = torch.stack([(1 - t0) * (1 - t1), (1 - t0) * t1, t0 * (1 - t1), t0 * t1], dim=-1)
    if envelope is not None:
        weights = weights * envelope.view(-1, 1, 1)
    # Keep only the nodes some row uses and renumber them 0..G-1 (in grid order).
    total = int(torch.prod(size))
    used = torch.zeros(total, dtype=torch.bool, device=dev)
    used[cells.reshape(-1)] = True
    nodes = used.nonzero().squeeze(1)  # [G] flat grid index
    renumber = torch.cumsum(used, 0) - 1
    cells = renumber[cells]
    if d == 1:
        coords = (nodes.to(dtype) + lo[0]).unsqueeze(1) * step  # [G, 1]
    else:
        n1 = int(size[1])
        i0 = torch.div(nodes, n1, rounding_mode="floor")
        coords = torch.stack([(i0.to(dtype) + lo[0]), ((nodes - i0 * n1).to(dtype) + lo[1])], dim=-1) * step
    values = basis_fn(coords)  # [G, K]
    plan = TablePlan.build(src, dst, cells, chunk_rows)
    return TabulatedBasis(values, weights, plan, float(step))
