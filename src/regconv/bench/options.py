"""Model options of the benchmarks: a benchmark's defaults with a spec's overrides, and a config
shared by several models reduced to what each model takes.

A benchmark's default options and a spec's overrides combine option by option as
:func:`regconv.models.create` combines overrides with a model's defaults
(:func:`regconv.models.merge_option`): a component given as a partial mapping (``{"order":
"linear"}``) is merged into the default mapping; any other value replaces it.

A config shared by several models (:data:`regconv.bench.PONITA_CONFIG`, the scaling and budget
harnesses' sizes) applies to each model where the model takes it (:func:`applicable`): a plain
option where the model has it; an option of a component where the model's component of that
kind takes it (``space.num_orientations`` on R^3 x S^2, not on R^3 or SE(3)); and, for a model
with flat options (``r3s2-edge``'s ``basis_dim``), a component's option under its flat name
(:data:`regconv.models.legacy.FLAT_OPTIONS`). Nothing else is dropped.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping
from typing import Any

from regconv.kernels import BASES, TABLES
from regconv.models import merge_option, options
from regconv.models.legacy import FLAT_OPTIONS
from regconv.nn import BLOCKS, READOUTS
from regconv.spaces import SPACES

__all__ = ["COMPONENTS", "applicable", "combine"]

#: the component options of the fibre models: their kinds, and the kind of a spec naming none
COMPONENTS: dict[str, tuple[Mapping[str, type], str | None]] = {
    "space": (SPACES, None),
    "basis": (BASES, "polynomial"),
    "block": (BLOCKS, "separable"),
    "table": (TABLES, "grid"),
    "readout": (READOUTS, "fibre"),
}

#: ``(component, its option) -> flat name`` of the models that take flat options
_FLAT_NAMES = {part: flat for flat, part in FLAT_OPTIONS.items()}


def combine(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``defaults`` with ``overrides``, option by option (:func:`regconv.models.merge_option`);
    neither argument is changed.

    >>> combine({"hidden": 64, "table": {"step": 0.1}}, {"table": {"order": "linear"}})
    {'hidden': 64, 'table': {'step': 0.1, 'order': 'linear'}}
    """
    out = copy.deepcopy(dict(defaults))
    for key, value in overrides.items():
        out[key] = merge_option(out[key], value) if key in out else copy.deepcopy(value)
    return out


def applicable(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``config`` that the registered model ``name`` takes (module docstring).

    A component's options in ``config`` (a mapping) are kept where the class of the model's
    component after the merge takes them; a component with none left is left out.
    """
    accepted = options(name)
    out: dict[str, Any] = {}
    for key, value in config.items():
        if key in COMPONENTS and isinstance(value, Mapping):
            if key in accepted:
                takes = _takes(key, merge_option(accepted[key], value))
                kept = {k: v for k, v in value.items() if k in takes}
                if kept:
                    out[key] = copy.deepcopy(kept)
            else:
                for option, v in value.items():
                    flat = _FLAT_NAMES.get((key, option))
                    if flat in accepted:
                        out[flat] = copy.deepcopy(v)
        elif key in accepted:
            out[key] = copy.deepcopy(value)
    return out


def _takes(component: str, spec: Mapping[str, Any]) -> set[str]:
    """The keys a spec of ``component`` may hold for the class it names (with ``kind``)."""
    kinds, default = COMPONENTS[component]
    cls = kinds.get(spec.get("kind", default))
    if cls is None:
        return set()
    params = inspect.signature(cls).parameters.values()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in named} | {"kind"}
