"""Model specs of the benchmarks: ``NAME[:key=value,...]``, a model name and constructor overrides.

Every benchmark (throughput, scaling, budget) reads its ``--models`` with :func:`parse_spec`.
A dotted key sets an option of a component (``r3s2:table.order=linear,space.num_orientations=8``:
``table={"order": "linear"}``, ``space={"num_orientations": 8}``, merged into the model's
defaults as :func:`regconv.models.create` merges them); the flat options of the fibre models
before release 0.6 (``r3s2:table_order=cubic``, ``num_orientations=16``, ``table_step=None``)
are translated by :func:`regconv.models.legacy.upgrade_options`, so every older command builds
the model it built then. Keys no model takes (a harness's own, e.g. ``unfused=1``) pass through.
"""

from __future__ import annotations

import ast
from typing import Any

from regconv import __version__
from regconv.models.legacy import upgrade_options

__all__ = ["parse_options", "parse_spec"]


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"r3s2:table.step=0.1,unfused=1"`` -> ``("r3s2", {"table": {"step": 0.1}, "unfused": 1})``.

    Values are Python literals (``0.1``, ``None``, ``True``), else strings (``block.kind=full``);
    the name, keys and values are stripped of surrounding blanks and empty items are skipped
    (``"r3:hidden=8,"``). A dotted key ``a.b=v`` sets ``b`` in the mapping ``a``. Flat options of
    the fibre models of earlier releases become today's (``table_order=cubic`` ->
    ``table={"order": "cubic"}``). A spec without a name, an item without ``=`` or without a
    key, a key given twice, a dotted key into an option given a value (``table=None,
    table.order=linear``) or flat and dotted spellings of one component (``table_step=0.1,
    table.order=linear``) is a ``ValueError`` naming the spec. The name is not checked here:
    each benchmark knows its models.
    """
    if not isinstance(spec, str):
        raise ValueError(f"a model spec is a string NAME[:key=value,...], got {spec!r}")
    name, _, rest = spec.partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"bad model spec {spec!r}: expected NAME[:key=value,...] (no name)")
    try:
        overrides = parse_options(rest)
    except ValueError as e:
        raise ValueError(f"bad model spec {spec!r}: {e}") from None
    try:
        return upgrade_options(name, overrides, __version__)
    except ValueError as e:
        raise ValueError(f"bad model spec {spec!r}: {e}") from None


def parse_options(text: str) -> dict[str, Any]:
    """``"table.order=cubic_bspline,hidden=8"`` -> ``{"table": {"order": "cubic_bspline"},
    "hidden": 8}``: the ``key=value`` items of a spec after its ``NAME:`` (the rules of
    :func:`parse_spec`; ``ValueError`` naming the bad item)."""
    options: dict[str, Any] = {}
    dotted: set[tuple[str, ...]] = set()  # the paths of the mappings made by dotted keys
    for item in filter(None, (x.strip() for x in text.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ValueError(f"expected key=value,..., got {item!r}")
        _set(options, key, _literal(value.strip()), dotted)
    return options


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError):
        return value


def _set(options: dict[str, Any], key: str, value: Any, dotted: set[tuple[str, ...]]) -> None:
    """``options[a][b] = value`` for the key ``a.b``; ``dotted``: the paths of the mappings that
    dotted keys made (only those take further keys)."""
    parts = tuple(p.strip() for p in key.split("."))
    if not all(parts):
        raise ValueError(f"option {key!r} has an empty part")
    node = options
    for i in range(1, len(parts)):
        path, part = parts[:i], parts[i - 1]
        if part not in node:
            node[part] = {}
            dotted.add(path)
        elif path not in dotted:
            given = ".".join(path)
            raise ValueError(f"option {key!r} sets a key in {given!r}, which is given as a value")
        node = node[part]
    if parts[-1] in node:
        if parts in dotted:
            raise ValueError(f"option {key!r} is given both as a value and by dotted keys")
        raise ValueError(f"option {key!r} is given twice")
    node[parts[-1]] = value
