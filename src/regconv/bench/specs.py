"""Model specs of the benchmarks: ``NAME[:key=value,...]``, a model name and constructor overrides.

Every benchmark (throughput, scaling, budget) reads its ``--models`` with :func:`parse_spec`.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["parse_spec"]


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"r3s2:table_step=0.1,unfused=1"`` -> ``("r3s2", {"table_step": 0.1, "unfused": 1})``.

    Values are Python literals (``0.1``, ``None``, ``True``), else strings (``kernel=full``);
    the name, keys and values are stripped of surrounding blanks and empty items are skipped
    (``"r3:hidden=8,"``). A spec without a name, an item without ``=`` or without a key, or a
    key given twice is a ``ValueError`` naming the spec. The name is not checked here: each
    benchmark knows its models.
    """
    if not isinstance(spec, str):
        raise ValueError(f"a model spec is a string NAME[:key=value,...], got {spec!r}")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"bad model spec {spec!r}: expected NAME[:key=value,...] (no name)")
    overrides: dict[str, Any] = {}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(
                f"bad model spec {spec!r}: expected NAME:key=value,... after ':', got {item!r}"
            )
        if key in overrides:
            raise ValueError(f"bad model spec {spec!r}: option {key!r} is given twice")
        try:
            overrides[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError, TypeError):
            overrides[key] = value.strip()
    return name, overrides
