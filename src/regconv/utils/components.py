"""Components given as an instance or as a spec ``{"kind": name, **options}``.

A model option that picks one of several classes (a kernel basis, a convolution block, a
readout, a space) takes either an instance of that component's base class or a mapping whose
``kind`` names a class of the component's registry (a dict ``kind -> class``), with the class's
own options beside it; ``kind`` may be left out where the component has a default kind. An
experiment adds a class and one registry entry, not a model option.

>>> build_component("table", {"step": 0.1}, {"grid": dict}, dict, default="grid")
{'step': 0.1}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["build_component"]

T = TypeVar("T")


def build_component(
    option: str,
    spec: T | Mapping[str, Any],
    kinds: Mapping[str, type[T]],
    base: type[T],
    *,
    default: str | None = None,
) -> T:
    """``spec`` itself if it is a ``base``, else ``kinds[spec["kind"]](**other keys)``.

    ``option`` names the model option in every ``ValueError`` (not a mapping, no or unknown
    ``kind``, an option the class does not take); ``default`` is the kind of a mapping that
    names none.
    """
    if isinstance(spec, base):
        return spec
    if not isinstance(spec, Mapping):
        raise ValueError(
            f"{option} must be a {base.__name__} or a mapping {{kind: ..., ...}}, got {spec!r}"
        )
    args = {k: v for k, v in spec.items() if k != "kind"}
    kind = spec.get("kind", default)
    if kind is None:
        raise ValueError(f"{option} must name its 'kind' (one of {', '.join(kinds)}), got {spec!r}")
    if kind not in kinds:
        raise ValueError(f"{option}: unknown kind {kind!r}; known: {', '.join(kinds)}")
    try:
        return kinds[kind](**args)
    except TypeError as e:
        raise ValueError(f"{option} ({kind}): {e}") from None
