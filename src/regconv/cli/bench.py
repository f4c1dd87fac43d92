"""``regconv bench NAME ...``: the installed benchmarks (their one list:
:mod:`regconv.bench.commands`). The research harnesses of the repository run as
``python -m benchmarks NAME`` from its root."""

from __future__ import annotations

__all__ = ["run_bench"]


def run_bench(argv: list[str]) -> int:
    """``regconv bench NAME [options]``; the exit code."""
    from regconv.bench.commands import main

    return main(argv, prog="regconv bench")
