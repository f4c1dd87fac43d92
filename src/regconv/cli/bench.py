"""``regconv bench NAME ...``: forwards to the benchmarks of :mod:`regconv.bench`, if installed."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys

__all__ = ["run_bench"]


def _print_err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_bench(argv: list[str]) -> int:
    """``regconv bench NAME [args]`` runs ``regconv.bench.NAME.main(args)`` where that module
    (or package) exists and defines ``main``; otherwise ``regconv.bench.main(argv)`` or
    ``regconv.bench.__main__.main(argv)`` (the package's own dispatcher, e.g. for benchmarks that
    are not modules) if the package defines one."""
    import regconv.bench as bench

    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name != "__main__")
    if argv and argv[0].replace("-", "_") in names and not argv[0].startswith("_"):
        module = importlib.import_module(f"regconv.bench.{argv[0].replace('-', '_')}")
        if callable(getattr(module, "main", None)):
            return int(module.main(argv[1:]) or 0)
    if callable(getattr(bench, "main", None)):
        return int(bench.main(argv) or 0)
    if importlib.util.find_spec("regconv.bench.__main__") is not None:
        entry = importlib.import_module("regconv.bench.__main__")
        if callable(getattr(entry, "main", None)):
            return int(entry.main(argv) or 0)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: regconv bench NAME [options]\n\nbenchmarks: " + ", ".join(names))
        return 0 if argv else 2
    name = argv[0].replace("-", "_")
    if name not in names:
        _print_err(f"regconv bench: unknown benchmark {argv[0]!r}; available: {', '.join(names)}")
        return 2
    module = importlib.import_module(f"regconv.bench.{name}")
    if not callable(getattr(module, "main", None)):
        _print_err(f"regconv bench: regconv.bench.{name} has no main()")
        return 2
    return int(module.main(argv[1:]) or 0)
