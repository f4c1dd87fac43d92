"""The spaces a model option can name: ``{"kind": "r3s2", "num_orientations": 16}`` and the like.

:func:`build_space` turns such a spec into its :class:`regconv.spaces.FibreSpace` (an instance is
taken as it is); a new space is one class and one entry of :data:`SPACES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regconv.spaces.base import FibreSpace
from regconv.spaces.r3 import R3
from regconv.spaces.r3s2 import R3S2
from regconv.spaces.se3 import SE3
from regconv.utils.components import build_component

__all__ = ["SPACES", "build_space"]

#: the fibre spaces a spec can name, by ``kind`` (their options: the class's arguments)
SPACES: dict[str, type[FibreSpace]] = {"r3": R3, "r3s2": R3S2, "se3": SE3}


def build_space(spec: FibreSpace | Mapping[str, Any]) -> FibreSpace:
    """The space of ``spec``: a :class:`FibreSpace`, or ``{"kind": name, **options}`` with
    ``name`` a key of :data:`SPACES` (``ValueError`` naming the problem)."""
    return build_component("space", spec, SPACES, FibreSpace)
