"""The command line of the budget benchmark: ``python -m benchmarks budget``, its argument
checks; training, resume and workers are :mod:`benchmarks.budget_core`'s (:data:`HARNESS`)."""

from __future__ import annotations

import argparse
import sys

from benchmarks.budget.report import order_records, render_table
from benchmarks.budget.specs import MODEL_LR, PRESET_ROWS, all_models, parse_spec, spec_options
from benchmarks.budget.task import identity_of, settings_of, train_one
from benchmarks.budget_core import Harness, add_run_arguments, check_run_arguments, run
from regconv.utils.checks import check_int, check_positive

__all__ = ["HARNESS", "build_parser", "main"]

#: The budget benchmark on the shared core
HARNESS = Harness(
    name="budget",
    settings_of=settings_of,
    identity_of=identity_of,
    train=train_one,
    render_table=render_table,
    order=order_records,
)


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m benchmarks budget``."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks budget",
        description="Train every model for the same wall-clock budget on the same QM9 subset "
        "and compare test MAE (see the module docstring of benchmarks.budget).",
        allow_abbrev=False,
    )
    p.add_argument("--minutes", type=float, required=True, help="training budget per model")
    p.add_argument("--target", default="homo", help="QM9 target (default homo)")
    p.add_argument(
        "--train-size", type=int, required=True, help="first S molecules of the train split"
    )
    p.add_argument(
        "--test-size", type=int, default=1000, help="first T molecules of the test split"
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=["all"],
        help="'all' (registry + schnet-pyg, dimenet++-pyg) or NAME[:key=value,...] specs",
    )
    p.add_argument(
        "--eval-split",
        choices=("test", "val"),
        default="test",
        help="evaluate on the first T molecules of the test split (default) or, for choosing "
        "options without looking at the test set, of the validation split",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--lr",
        type=float,
        default=5e-4,
        help="peak learning rate of the models without a rate of their own (default 5e-4)",
    )
    p.add_argument(
        "--model-lr",
        nargs="+",
        default=[],
        metavar="NAME=LR",
        help="peak learning rate of every spec of model NAME (the name before ':'), instead of "
        f"--lr or the model's own rate ({', '.join(f'{k}: {v:g}' for k, v in MODEL_LR.items())})"
        "; e.g. --model-lr r3s2=5e-4 dimenet++-pyg=1e-3",
    )
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--warmup-fraction", type=float, default=0.05)
    p.add_argument("--min-lr-ratio", type=float, default=0.0)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--hidden", type=int, default=None, help="override hidden of every model")
    p.add_argument("--accelerator", default="cpu", help="Lightning accelerator (default cpu)")
    add_run_arguments(p, "budget", threads=None)
    return p


def _check(p: argparse.ArgumentParser, check, *args) -> None:
    """Run a :mod:`regconv.utils.checks` check; its ``ValueError`` becomes a usage error."""
    try:
        check(*args)
    except ValueError as e:
        p.error(str(e))


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """Usage errors (``p.error``, exit code 2) for bad arguments; the model specs to run."""
    from regconv.data import QM9_TARGETS

    _check(p, check_positive, "--minutes", args.minutes)
    names = [t[0] if isinstance(t, tuple) else t for t in QM9_TARGETS]
    if args.target not in names:
        p.error(f"unknown --target {args.target!r}; valid: {' '.join(map(str, names))}")
    for flag, value in (("--batch-size", args.batch_size), ("--test-size", args.test_size)):
        _check(p, check_int, flag, value)
    if args.train_size < args.batch_size:
        p.error(f"--train-size {args.train_size} is smaller than one batch ({args.batch_size})")
    specs = all_models() if args.models == ["all"] else list(args.models)
    if "all" in specs:
        p.error("'all' cannot be combined with model names")
    check_run_arguments(p, args, specs)
    args.model_lr = _model_lrs(p, args.model_lr)
    for spec in specs:
        _check(p, spec_options, spec, args.hidden)
    names = {parse_spec(s)[0] for s in specs}
    unused = sorted(set(args.model_lr) - names)
    if unused and not args.worker:  # a worker trains one of the run's models
        p.error(f"--model-lr names model(s) {unused} that are not in --models")
    own = {name: lr for name, lr in MODEL_LR.items() if name in names}
    args.model_lr = {**own, **args.model_lr}
    return specs


def _model_lrs(p: argparse.ArgumentParser, items: list[str] | dict) -> dict[str, float]:
    """``["NAME=LR", ...]`` -> ``{NAME: LR}`` (usage errors for bad items or names)."""
    if isinstance(items, dict):  # already parsed
        return items
    known = set(all_models()) | set(PRESET_ROWS)
    lrs: dict[str, float] = {}
    for item in items:
        name, sep, value = item.rpartition("=")
        if not sep or not name:
            p.error(f"--model-lr takes NAME=LR items, got {item!r}")
        if name not in known:
            p.error(f"--model-lr: unknown model {name!r}; available: {', '.join(sorted(known))}")
        if name in lrs:
            p.error(f"--model-lr: model {name!r} is given twice")
        try:
            lr = float(value)
        except ValueError:
            p.error(f"--model-lr {item!r}: {value!r} is not a number")
        if not (lr > 0 and lr < float("inf")):
            p.error(f"--model-lr {item!r}: the learning rate must be finite and positive")
        lrs[name] = lr
    return lrs


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (``argv`` None: ``sys.argv[1:]``); the exit code (1: a model failed,
    2: bad arguments or a folder of other settings)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    specs = _check_args(parser, args)
    return run(HARNESS, args, specs, argv)
