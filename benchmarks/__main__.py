"""``python -m benchmarks NAME [options]``: the one dispatcher of the research harnesses.

Run from the repository root (the folder above ``benchmarks/``); ``python -m benchmarks NAME
--help`` shows the options of one harness.
"""

from __future__ import annotations

import importlib
import sys

__all__ = ["HARNESSES", "main"]

#: Harness name -> (``module:function`` taking ``argv`` and returning the exit code, summary)
HARNESSES: dict[str, tuple[str, str]] = {
    "budget": ("benchmarks.budget.cli:main",
               "every model for the same wall-clock budget on QM9, test MAE"),
    "pes-budget": ("benchmarks.pes_budget.cli:main",
                   "energy + force models (and MACE) for the same budget on MD17-class frames"),
    "pes-curves": ("benchmarks.pes_budget.curves:main",
                   "validation force MAE against epochs and seconds of pes-budget runs"),
    "pes-rotations": ("benchmarks.pes_budget.rotations:main",
                      "test-time rotation averaging of trained pes-budget models"),
    "per-step": ("benchmarks.per_step:main",
                 "A/B tries of model options at equal steps on QM9 validation molecules"),
    "throughput": ("benchmarks.throughput:main",
                   "regconv bench throughput with PyG's SchNet and DimeNet++ beside"),
    "device-throughput": ("benchmarks.throughput:device_main",
                          "regconv bench device-throughput with PyG's models beside"),
    "neighbours": ("benchmarks.neighbours:main",
                   "periodic neighbour lists against ASE's, 1k to 100k atoms"),
    "npt-lattice": ("benchmarks.npt_lattice:main",
                    "copper's lattice constant and thermal expansion from NPT, learned vs EMT"),
    "scaling": ("benchmarks.scaling:main", "cost against the number of points"),
    "flops": ("benchmarks.flops:main", "matmul FLOPs of one training step on a QM9 batch"),
    "peak": ("benchmarks.flops:peak_main", "fp32 matmul peak of this machine"),
    "profile-step": ("benchmarks.profile_step:main",
                     "where a training step's time goes (PyTorch profiler)"),
    "accuracy-check": ("benchmarks.accuracy_check:main",
                       "same-seed training, exact against tabulated kernels"),
    "nbody-errors": ("benchmarks.nbody_errors:main",
                     "per-trajectory N-body errors and reference predictors"),
    "force-step": ("benchmarks.force_step:main",
                   "energy + force training step against an energy-only one, same model"),
    "md-speed": ("benchmarks.md_speed:main", "MD steps per second, regconv and MACE"),
    "mace-md": ("benchmarks.mace_md:main", "regconv md-check nve|stability on a MACE model"),
    "nve-seeds": ("benchmarks.nve_seeds:main",
                  "NVE drift over velocity seeds of md-check runs, models compared"),
}  # fmt: skip


def _usage() -> str:
    rows = "\n".join(f"  {name:18s} {summary}" for name, (_, summary) in HARNESSES.items())
    return (
        "usage: python -m benchmarks NAME [options]   (from the repository root)\n\n"
        f"harnesses:\n{rows}\n\n"
        "python -m benchmarks NAME --help: the options of one harness\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the harness ``argv[0]`` with ``argv[1:]``; the exit code (2: unknown name)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(_usage())
        return 0 if argv else 2
    name = argv[0].replace("_", "-")
    if name not in HARNESSES:
        print(f"python -m benchmarks: unknown harness {argv[0]!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module, _, function = HARNESSES[name][0].partition(":")
    try:  # argparse reports usage errors (and --help) by exiting
        return int(getattr(importlib.import_module(module), function)(argv[1:]) or 0)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)


if __name__ == "__main__":
    sys.exit(main())
