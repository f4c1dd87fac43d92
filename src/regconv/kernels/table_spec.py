r"""The kernel-table component: a model's spatial kernel read from a table on a grid of invariants.

A model option ``table`` is None (the exact kernel), a :class:`TableSpec`, or a mapping
``{"step": 0.1, "order": "quadratic"}`` (``kind`` defaults to ``"grid"``, the one kind of
:data:`TABLES`). See :mod:`regconv.kernels.table` for what the orders cost and guarantee.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from regconv.kernels.table import ORDERS, SMOOTH_ORDERS, TabulatedBasis, tabulate
from regconv.utils.checks import check_choice, check_positive
from regconv.utils.components import build_component

__all__ = ["TABLES", "TableSpec", "build_table"]


@dataclass(frozen=True)
class TableSpec:
    r"""The spatial kernel interpolated from its values on a grid of step ``step`` (a length in
    the units of ``pos``) over at most :attr:`max_inputs` invariants
    (:class:`regconv.kernels.TabulatedBasis`): same parameters and ``state_dict`` as the exact
    kernel, several times faster.

    ``order="linear"``: bilinear, kernel error ``O(step^2)``, forces piecewise constant;
    ``"quadratic"`` (the quadratic B-spline quasi-interpolant, 3 nodes per invariant) and
    ``"cubic"`` (Catmull-Rom, 4 nodes): error ``O(step^3)``, C¹, so forces are continuous
    (:attr:`smooth`: energy + force training); ``"cubic_bspline"`` (the cubic B-spline
    quasi-interpolant, 4 nodes): error ``O(step^4)``, C², so the forces' derivatives are
    continuous too (energy-conserving MD with velocity Verlet).
    """

    step: float
    order: str = "linear"

    #: the most kernel inputs a table holds
    max_inputs = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "step", check_positive("table.step", self.step))
        check_choice("table.order", self.order, ORDERS)

    @property
    def smooth(self) -> bool:
        """Whether the interpolant is C¹ (continuous forces)."""
        return self.order in SMOOTH_ORDERS

    def tabulate(
        self, basis_fn, invariants: Tensor, src: Tensor, dst: Tensor, envelope: Tensor | None,
        length_scale: float = 1.0,
    ) -> TabulatedBasis:  # fmt: skip
        """:func:`regconv.kernels.tabulate` of ``basis_fn`` over invariants of positions divided
        by ``length_scale``. Shapes: invariants ``[E, O, D]``, envelope ``[E]``."""
        step = self.step / length_scale
        return tabulate(basis_fn, invariants, step, src, dst, envelope, order=self.order)


#: the kernel tables a spec can name, by ``kind``
TABLES: dict[str, type[TableSpec]] = {"grid": TableSpec}


def build_table(spec: TableSpec | Mapping[str, Any] | None) -> TableSpec | None:
    """The table component of ``spec`` (None: the exact kernel)."""
    if spec is None:
        return None
    return build_component("table", spec, TABLES, TableSpec, default="grid")
