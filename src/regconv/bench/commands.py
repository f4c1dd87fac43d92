"""The one list of the installed benchmarks: ``regconv bench NAME ...`` (also
``python -m regconv.bench NAME ...``).

=====================  ==========================================================================
name                   what it measures, on the user's models and data
=====================  ==========================================================================
``throughput``         training and inference molecules/s, peak memory and FLOPs on QM9
                       batches (:mod:`regconv.bench.throughput`; ``--ponita DIR [DIR]`` adds
                       checkouts of ponita and/or ponita-torch beside the models)
``device-throughput``  the same per device and precision (:mod:`regconv.bench.device_throughput`)
``grid-error``         invariance error of the grid fibres against the grid size
                       (:mod:`regconv.bench.grid_error`)
=====================  ==========================================================================

The research harnesses that produced BENCHMARKS.md's comparison tables (the same-budget QM9 and
energy + force comparisons, per-step tries, profiling, FLOP counts, scaling, ...) are not
installed: they live in the repository's ``benchmarks/`` folder and run as
``python -m benchmarks NAME ...`` from its root.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["COMMANDS", "main"]

#: Command name -> module with ``main(argv) -> int``
COMMANDS = {
    "throughput": "regconv.bench.throughput",
    "device-throughput": "regconv.bench.device_throughput",
    "grid-error": "regconv.bench.grid_error",
}


def main(argv: list[str] | None = None, prog: str = "regconv bench") -> int:
    """Run the installed benchmark ``argv[0]`` with the options ``argv[1:]``; the exit code
    (2 and a message for an unknown name)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        f"usage: {prog} NAME [options]  ({prog} NAME --help for its options)\n\n"
        f"benchmarks: {', '.join(COMMANDS)}\n"
        "research harnesses (not installed): python -m benchmarks NAME, from the repository root\n"
    )
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(usage)
        return 0 if argv else 2
    name = argv[0].replace("_", "-")
    if name not in COMMANDS:
        print(f"{prog}: unknown benchmark {argv[0]!r}\n\n{usage}", file=sys.stderr, flush=True)
        return 2
    module = importlib.import_module(COMMANDS[name])
    return int(module.main(argv[1:], prog=f"{prog} {name}") or 0)
