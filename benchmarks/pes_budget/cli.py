"""The command line of the energy + force budget benchmark: ``python -m benchmarks pes-budget``
and its argument checks; training, resume and workers are :mod:`benchmarks.budget_core`'s
(:data:`HARNESS`). A model spec ``mace[:...]`` trains MACE (:mod:`~benchmarks.pes_budget.mace`),
any other a regconv model (:mod:`~benchmarks.pes_budget.task`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from benchmarks.budget_core import Harness, add_run_arguments, check_run_arguments, run
from benchmarks.pes_budget.report import render_table
from benchmarks.pes_budget.specs import default_models, spec_lr, spec_options
from benchmarks.pes_budget.task import identity_of, settings_of
from regconv.utils.checks import check_int, check_positive

__all__ = ["HARNESS", "build_parser", "main"]


def train(spec: str, args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train and test ``spec``: MACE through its own tools, or a regconv model."""
    if spec_options(spec)[0] == "mace":
        from benchmarks.pes_budget.mace import train_mace

        return train_mace(spec, args, command)
    from benchmarks.pes_budget.task import train_one

    return train_one(spec, args, command)


#: The energy + force budget benchmark on the shared core
HARNESS = Harness(
    name="pes-budget",
    settings_of=settings_of,
    identity_of=identity_of,
    train=train,
    render_table=render_table,
)


def build_parser() -> argparse.ArgumentParser:
    """The options of the benchmark."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks pes-budget",
        description="Train energy + force models for the same wall-clock budget on the same "
        "MD17-class frames and compare test energy and force MAE (see benchmarks.pes_budget).",
        allow_abbrev=False,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--molecule", help="a generated GFN2-xTB set (e.g. aspirin)")
    src.add_argument("--path", help="a user's rMD17 / sGDML .npz, extended XYZ or ASE .db file")
    src.add_argument("--crystal", choices=("copper",),
                     help="a generated periodic set (copper: EMT, regconv.data.crystals)")  # fmt: skip
    p.add_argument("--stress", action="store_true",
                   help="train on and report the stress too (periodic frames that carry it)")  # fmt: skip
    p.add_argument("--stress-weight", type=float, default=10.0,
                   help="stress loss weight, with --stress (MACE's: the same in its units)")  # fmt: skip
    p.add_argument("--frames", type=int, default=None, help="size of the generated set")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the 950 / 50 / rest split")
    p.add_argument("--test-size", type=int, default=5000, help="first T test frames")
    p.add_argument("--minutes", type=float, required=True, help="training budget per model")
    p.add_argument("--models", nargs="+", default=None, help="NAME[:key=value,...] specs")
    p.add_argument(
        "--eval-split",
        choices=("test", "val"),
        default="test",
        help="evaluate on the first T test frames (default) or, for choosing options without "
        "looking at the test set, on the validation frames",
    )
    p.add_argument("--seed", type=int, default=0, help="initialisation and data order")
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="peak learning rate of every regconv model without an lr key in its spec "
        "(default: the model's own, benchmarks.pes_budget.specs.MODEL_LR, else 1e-3)",
    )
    p.add_argument("--energy-weight", type=float, default=1.0)
    p.add_argument("--force-weight", type=float, default=100.0)
    p.add_argument("--ema-decay", type=float, default=0.99)
    p.add_argument(
        "--no-rotation-augment",
        action="store_true",
        help="train regconv models on the frames as they are (default: each training graph "
        "randomly rotated); MACE is never augmented",
    )
    p.add_argument("--warmup-fraction", type=float, default=0.05)
    p.add_argument("--min-lr-ratio", type=float, default=0.01)
    add_run_arguments(p, "pes-budget", threads=1)
    return p


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """Usage errors (exit code 2) for bad arguments; the model specs to run."""
    checks = [
        (check_positive, "--minutes", args.minutes),
        (check_int, "--batch-size", args.batch_size),
        (check_int, "--test-size", args.test_size),
    ]
    if args.lr is not None:
        checks.append((check_positive, "--lr", args.lr))
    for check, flag, value in checks:
        try:
            check(flag, value)
        except ValueError as e:
            p.error(str(e))
    if args.stress_weight < 0:
        p.error("--stress-weight must be >= 0")
    if args.stress and args.molecule:
        p.error("--stress needs periodic frames (--crystal or --path), not a molecule set")
    if (
        args.energy_weight < 0
        or args.force_weight < 0
        or args.energy_weight + args.force_weight <= 0
    ):
        p.error("need --energy-weight >= 0 and --force-weight >= 0, not both 0")
    specs = list(args.models or default_models())
    check_run_arguments(p, args, specs)
    for spec in specs:
        try:
            spec_options(spec)
            spec_lr(spec, args.lr)
        except ValueError as e:
            p.error(str(e))
    return specs


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit code (1: a model failed, 2: bad arguments or resume)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    specs = _check_args(parser, args)
    return run(HARNESS, args, specs, argv)
