r"""Pair features: extra inputs of a kernel, computed from the geometry of a pair of points.

A kernel of a regular group convolution is a function of the pair invariants of its space
(:meth:`regconv.spaces.FibreSpace.spatial_invariants`). A pair feature appends more invariants
to them, for a task that needs them; the generic model only concatenates what its features
return, in the order they are given, and never knows what they mean (a velocity, a time).

Interface: ``feature(pairs, space) -> Tensor`` with :class:`PairGeometry` ``pairs`` and the model's
space; the result is ``[E, S]`` (the same for every orientation of the fibre) or ``[E, O, S]`` (seen
from each orientation ``o``); :attr:`PairFeature.size` is ``S`` for a given space. Every feature
here is invariant under E(3) (and, with relative velocities, under Galilean boosts), so a model
keeps its symmetries.

- :class:`InverseSquareDistance`: ``d^2 / (r^2 + d^2)`` of the pair distance for lengths ``d``, a
  :class:`DistanceFeature`: a function of the pair distance alone, which the space's invariants
  already determine, so a tabulated kernel evaluates it inside its basis, at the table's nodes
  (:class:`regconv.kernels.KernelBasis`), and the table keeps holding the space's invariants only.
- :class:`ClosestApproach`: the same of the closest distance of the pair moving on straight lines
  within a time horizon (reads one node vector as the velocity).
- :class:`HeadingInvariants`: the space's own invariants of where the pair is heading, the
  straight-line relative position at the horizon.

:func:`build_pair_features` turns the specs of a config (``{"kind": "inverse_square", "scales":
[...]}``) into these modules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from regconv.utils.checks import check_int, check_positive, check_positive_list
from regconv.utils.components import build_component

__all__ = [
    "ClosestApproach",
    "DistanceFeature",
    "HeadingInvariants",
    "InverseSquareDistance",
    "PAIR_FEATURES",
    "PairFeature",
    "PairGeometry",
    "build_pair_features",
]


@dataclass(frozen=True)
class PairGeometry:
    """What a pair feature (or a readout) may read of a graph's pairs ``j -> i``.

    Attributes:
        edge_index: ``[2, E]`` (src ``j``, dst ``i``).
        x_ij: ``[E, 3]`` relative positions ``(x_j - x_i) / length_scale`` (what the space's
            invariants see).
        length_scale: the length the positions were divided by.
        vec: node vectors ``[N, V, 3]`` of the batch, or None.
    """

    edge_index: Tensor
    x_ij: Tensor
    length_scale: float
    vec: Tensor | None = None

    def relative(self, vector: int) -> Tensor:
        """``v_j - v_i`` of node vector ``vector``, ``[E, 3]`` (``ValueError`` without it)."""
        if self.vec is None or self.vec.shape[1] <= vector:
            have = 0 if self.vec is None else self.vec.shape[1]
            raise ValueError(f"this pair feature reads node vector {vector}; the batch has {have}")
        v = self.vec[:, vector]  # [N, 3]
        return v.index_select(0, self.edge_index[0]) - v.index_select(0, self.edge_index[1])


class PairFeature(nn.Module):
    """Base of the pair features: parameter-free ``(pairs, space) -> [E, S] | [E, O, S]``.

    A feature that reads a node vector sets :attr:`vector` (its index in ``batch.vec``);
    :attr:`vectors` is then how many node vectors it needs (``batch.vec[:, :vectors]``), which a
    model checks at construction against its ``vector_in``.
    """

    vector: int | None = None

    @property
    def vectors(self) -> int:
        """How many node vectors the feature reads (0: none)."""
        return 0 if self.vector is None else self.vector + 1

    def size(self, space) -> int:  # pragma: no cover - every feature overrides it
        raise NotImplementedError

    def forward(self, pairs: PairGeometry, space) -> Tensor:  # pragma: no cover
        raise NotImplementedError


def _inverse_square(r2: Tensor, d2: Tensor) -> Tensor:
    return d2 / (r2 + d2)


class DistanceFeature(PairFeature):
    """A pair feature that is a function of the pair distance ``r`` (in the units of ``pos``)
    alone: :meth:`of_distance`. The distance is the norm of the coordinates of ``x_ij`` that the
    spatial invariants of every :class:`regconv.spaces.FibreSpace` hold, so a kernel basis can
    evaluate the feature from its invariants, which is what lets a table of the kernel hold it.

    Shapes:
        :meth:`of_distance`: ``r [*, 1] -> [*, S]``.
    """

    def of_distance(self, r: Tensor) -> Tensor:  # pragma: no cover - every feature overrides it
        raise NotImplementedError

    def forward(self, pairs: PairGeometry, space) -> Tensor:
        x = pairs.x_ij * pairs.length_scale  # [E, 3]
        return self.of_distance(torch.linalg.vector_norm(x, dim=-1, keepdim=True))  # [E, S]


class InverseSquareDistance(DistanceFeature):
    r"""``d^2 / (r^2 + d^2)`` of the pair distance ``r`` (in the units of ``pos``) for each of
    ``scales`` ``d``: bounded (1 at ``r = 0``, so self-loops are fine) and inverse-square for
    ``r >> d``. Polynomial features of the invariants cannot follow a ``1/r^2`` force into close
    encounters; these can.

    Shapes:
        -> ``[E, S]`` with ``S = len(scales)``.
    """

    def __init__(self, scales: Sequence[float]) -> None:
        super().__init__()
        self.scales = check_positive_list("scales", scales)

    def size(self, space) -> int:
        return len(self.scales)

    def of_distance(self, r: Tensor) -> Tensor:
        d2 = torch.tensor(self.scales, dtype=r.dtype, device=r.device).square()  # [S]
        return _inverse_square(r.square(), d2)  # [*, S]


class ClosestApproach(PairFeature):
    r"""``d^2 / (r_c^2 + d^2)`` for each of ``scales``, of the closest approach of the pair moving
    on straight lines within ``horizon``: ``r_c = min_{0 <= t <= T} |x_ij + t v_ij|`` with
    ``v_ij = v_j - v_i`` the relative velocity, node vector number ``vector`` of the batch.
    Invariant under E(3) and Galilean boosts; it tells the kernel which pairs are about to meet.

    Shapes:
        -> ``[E, S]``.
    """

    def __init__(self, scales: Sequence[float], horizon: float, vector: int = 0) -> None:
        super().__init__()
        self.scales = check_positive_list("scales", scales)
        self.horizon = check_positive("horizon", horizon)
        self.vector = check_int("vector", vector, minimum=0)

    def size(self, space) -> int:
        return len(self.scales)

    def forward(self, pairs: PairGeometry, space) -> Tensor:
        x = pairs.x_ij * pairs.length_scale  # [E, 3]
        v = pairs.relative(self.vector)  # [E, 3]
        d2 = torch.tensor(self.scales, dtype=x.dtype, device=x.device).square()  # [S]
        speed2 = v.square().sum(-1, keepdim=True)  # [E, 1]
        t = -(x * v).sum(-1, keepdim=True) / speed2.clamp_min(1e-12)
        t = t.clamp(0.0, self.horizon)  # [E, 1]
        rc2 = (x + t * v).square().sum(-1, keepdim=True)  # [E, 1]
        return _inverse_square(rc2, d2)  # [E, S]


class HeadingInvariants(PairFeature):
    r"""The space's spatial invariants of the pair's straight-line relative position at the
    horizon, ``y = x_ij + T v_ij`` (on R^3 x S^2: ``n_o . y`` and ``|y ⊥ n_o|``): where the pair
    is heading, seen from each orientation. E(3)- and Galilean-invariant like ``r_c``.

    Shapes:
        -> ``[E, O, D_s]`` (``D_s`` = the space's ``spatial_dim``).
    """

    def __init__(self, horizon: float, vector: int = 0) -> None:
        super().__init__()
        self.horizon = check_positive("horizon", horizon)
        self.vector = check_int("vector", vector, minimum=0)

    def size(self, space) -> int:
        return space.spatial_dim

    def forward(self, pairs: PairGeometry, space) -> Tensor:
        y = pairs.x_ij + self.horizon * pairs.relative(self.vector) / pairs.length_scale  # [E, 3]
        return space.spatial_invariants(y)  # [E, O, D_s]


#: the pair features a config can name, by ``kind``
PAIR_FEATURES: dict[str, type[PairFeature]] = {
    "inverse_square": InverseSquareDistance,
    "closest_approach": ClosestApproach,
    "heading": HeadingInvariants,
}


def build_pair_features(
    specs: Sequence[PairFeature | Mapping[str, Any]] | None,
) -> list[PairFeature]:
    """Modules from specs: a :class:`PairFeature`, or a mapping ``{"kind": name, **arguments}``
    with ``name`` a key of :data:`PAIR_FEATURES` (``ValueError`` naming the bad entry)."""
    if specs is None:
        return []
    if isinstance(specs, (str, Mapping)) or not isinstance(specs, Sequence):
        raise ValueError(f"pair_features must be a list of features or specs, got {specs!r}")
    return [
        build_component(f"pair_features[{i}]", spec, PAIR_FEATURES, PairFeature)
        for i, spec in enumerate(specs)
    ]
