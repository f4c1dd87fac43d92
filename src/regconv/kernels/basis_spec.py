r"""The kernel-basis component of the fibre models: what :class:`regconv.models.FibreNet` builds
its spatial and fibre kernel bases from.

A model option ``basis`` is a :class:`BasisSpec` or a mapping ``{"dim": 64, "degree": 3,
"radial": 50, "length_scale": 5.0}`` (``kind`` defaults to ``"polynomial"``, the one kind of
:data:`BASES`; a new kind of basis is a subclass with its own options and an entry there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from torch import nn

from regconv.kernels.basis import KernelBasis
from regconv.utils.checks import check_int, check_positive
from regconv.utils.components import build_component

__all__ = ["BASES", "BasisSpec", "build_basis"]

#: the reach of the distance Gaussians on a fully connected graph, in units of ``pos`` (most of
#: QM9's molecules in Å)
FULL_GRAPH_REACH = 10.0


@dataclass(frozen=True)
class BasisSpec:
    r"""Polynomial features of the pair invariants, then a GELU MLP to ``dim``
    (:class:`regconv.kernels.KernelBasis`): one basis of the spatial invariants ``[E, O, K]`` and
    one of the fibre invariants ``[O, O, K]``, shared by every layer.

    Args:
        dim: basis size ``K``; degree: degree of the monomials of the invariants.
        radial: ``R > 0`` adds ``R`` Gaussians of the pair distance ``|x_ij|`` to the spatial
            basis's features, over the reach of the graph (the cutoff, or
            :data:`FULL_GRAPH_REACH` for full graphs).
        length_scale: positions are divided by it before the invariants are taken (a length in
            the units of ``pos``); the cutoff envelope, pair features and table steps stay in
            the units of ``pos``.
    """

    dim: int = 64
    degree: int = 3
    radial: int = 0
    length_scale: float = 5.0

    def __post_init__(self) -> None:
        check_int("basis.dim", self.dim)
        check_int("basis.degree", self.degree)
        check_int("basis.radial", self.radial, minimum=0)
        scale = check_positive("basis.length_scale", self.length_scale)
        object.__setattr__(self, "length_scale", scale)

    def spatial(
        self,
        in_dim: int,
        distance_dims: int,
        cutoff: float | None,
        distance_features: Sequence[nn.Module] = (),
    ) -> nn.Module:
        """The basis of ``in_dim`` kernel inputs (``distance_features``' included, which it
        evaluates itself) whose first ``distance_dims`` hold ``x_ij / length_scale`` in a frame
        of the receiving point (their norm: the distance)."""
        reach = (cutoff if cutoff is not None else FULL_GRAPH_REACH) / self.length_scale
        return KernelBasis(
            in_dim, self.dim, self.degree,
            radial=self.radial, radial_dims=distance_dims, radial_range=reach,
            distance_features=distance_features, distance_scale=self.length_scale,
        )  # fmt: skip

    def fibre(self, in_dim: int) -> nn.Module:
        """The basis of ``in_dim`` fibre invariants (cosines, in ``[-1, 1]``)."""
        return KernelBasis(in_dim, self.dim, self.degree)


#: the kernel bases a spec can name, by ``kind``
BASES: dict[str, type[BasisSpec]] = {"polynomial": BasisSpec}


def build_basis(spec: BasisSpec | Mapping[str, Any] | None) -> BasisSpec:
    """The basis component of ``spec`` (None: the defaults of :class:`BasisSpec`)."""
    spec = {} if spec is None else spec
    return build_component("basis", spec, BASES, BasisSpec, default="polynomial")
