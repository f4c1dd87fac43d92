"""The model registry: names -> constructors, and variants (a constructor with other defaults)."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

__all__ = ["available", "create", "merge_option", "options", "register"]

_REGISTRY: dict[str, tuple[Callable[..., nn.Module], dict[str, Any]]] = {}


def register(
    name: str, constructor: Callable[..., nn.Module], defaults: Mapping[str, Any] | None = None
) -> None:
    """Register ``constructor`` under ``name`` (a ``ValueError`` if the name is taken).

    ``defaults`` makes a variant: the same constructor with some options set otherwise (e.g.
    ``r3s2-nbody``: ``r3s2`` with the N-body task's pair features); a variant's defaults live
    here, the constructor's own in its signature. Each default must be one of its options.
    """
    if name in _REGISTRY:
        raise ValueError(f"a model named {name!r} is already registered")
    defaults = dict(defaults or {})
    params = inspect.signature(constructor).parameters
    unknown = sorted(set(defaults) - set(params))
    if unknown:
        raise ValueError(f"variant {name!r} sets unknown option(s) {unknown}")
    _REGISTRY[name] = (constructor, defaults)


def available() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def _entry(name: str) -> tuple[Callable[..., nn.Module], dict[str, Any]]:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    return _REGISTRY[name]


def create(name: str, **overrides) -> nn.Module:
    """Build the model ``name`` with its defaults, overridden by ``overrides``.

    A component given as a mapping is merged into a default mapping unless both name a ``kind``
    and the kinds differ: ``create("r3s2", table={"order": "linear"})`` keeps ``r3s2``'s table
    step; a mapping of another kind, an instance or None replaces the default.

    Unknown names and unknown or ill-typed options raise ``ValueError`` listing the valid ones.
    """
    constructor, defaults = _entry(name)
    params = inspect.signature(constructor).parameters
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(
            f"model {name!r} has no option(s) {unknown}; its options: {sorted(params)}"
        )
    options = copy.deepcopy(defaults)
    for key, value in overrides.items():
        options[key] = merge_option(options.get(key, params[key].default), value)
    return constructor(**options)


def merge_option(default: Any, override: Any) -> Any:
    """``{**default, **override}`` where both are mappings, unless both name a ``kind`` and the
    kinds differ; else ``override``."""
    if not (isinstance(default, Mapping) and isinstance(override, Mapping)):
        return override
    if "kind" in default and "kind" in override and default["kind"] != override["kind"]:
        return override
    return {**default, **override}


def options(name: str) -> dict[str, object]:
    """The constructor options of ``name`` with their defaults (a variant's own where it sets
    them)."""
    constructor, defaults = _entry(name)
    sig = inspect.signature(constructor)
    out = {k: p.default for k, p in sig.parameters.items()}
    out.update(copy.deepcopy(defaults))
    return out
