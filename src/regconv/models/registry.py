"""The model registry: names -> constructors with defaults."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str, constructor: Callable[..., nn.Module]) -> None:
    """Register ``constructor`` under ``name`` (a ``ValueError`` if the name is taken)."""
    if name in _REGISTRY:
        raise ValueError(f"a model named {name!r} is already registered")
    _REGISTRY[name] = constructor


def available() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def create(name: str, **overrides) -> nn.Module:
    """Build the model ``name`` with its defaults, overridden by ``overrides``.

    Unknown names and unknown or ill-typed options raise ``ValueError`` listing the valid ones.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    constructor = _REGISTRY[name]
    params = inspect.signature(constructor).parameters
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise ValueError(f"model {name!r} has no option(s) {unknown}; its options: {sorted(params)}")
    return constructor(**overrides)


def options(name: str) -> dict[str, object]:
    """The constructor options of ``name`` with their defaults."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available())}")
    sig = inspect.signature(_REGISTRY[name])
    return {k: p.default for k, p in sig.parameters.items()}
