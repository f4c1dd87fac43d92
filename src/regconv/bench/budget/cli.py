"""The command line of the budget benchmark: ``regconv bench budget`` / ``python -m
regconv.bench.budget``, its argument checks and resume.

Resume: a model whose record is already in ``--out`` is skipped, so an interrupted run loses at
most the models in flight; rerun the same command. Records made with other settings (budget,
sizes, seed, optimiser, ...) or other model options are refused (exit code 2): use another
``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path

import torch

from regconv.bench.budget.report import (
    differences,
    json_line,
    read_json,
    record_path,
    settings_of,
    write_summary,
)
from regconv.bench.budget.specs import MODEL_LR, all_models, parse_spec, spec_options
from regconv.bench.budget.worker import model_lr, run_parallel, train_one
from regconv.utils.checks import check_int, check_positive

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The options of ``regconv bench budget``."""
    p = argparse.ArgumentParser(
        prog="regconv bench budget",
        description="Train every model for the same wall-clock budget on the same QM9 subset "
        "and compare test MAE (see the module docstring of regconv.bench.budget).",
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
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads per model (default: torch's, 1 with --jobs > 1)",
    )
    p.add_argument("--jobs", type=int, default=1, help="models trained at a time, in subprocesses")
    p.add_argument("--out", default=None, help="output folder (default runs/budget-<date>)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)
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
    _check(p, check_int, "--jobs", args.jobs)
    if args.train_size < args.batch_size:
        p.error(f"--train-size {args.train_size} is smaller than one batch ({args.batch_size})")
    if args.threads is not None:
        _check(p, check_int, "--threads", args.threads)
    if not 0 <= args.warmup_fraction < 1 or not 0 <= args.min_lr_ratio <= 1:
        p.error("need 0 <= --warmup-fraction < 1 and 0 <= --min-lr-ratio <= 1")
    if not 0 <= args.ema_decay < 1:
        p.error("--ema-decay must be in [0, 1) (0: no EMA)")
    args.model_lr = _model_lrs(p, args.model_lr)
    specs = all_models() if args.models == ["all"] else list(args.models)
    if "all" in specs:
        p.error("'all' cannot be combined with model names")
    if len(set(specs)) != len(specs):
        p.error("a model is listed twice")
    for spec in specs:
        _check(p, spec_options, spec, args.hidden)
    names = {parse_spec(s)[0] for s in specs}
    unused = sorted(set(args.model_lr) - names)
    if unused:
        p.error(f"--model-lr names model(s) {unused} that are not in --models")
    own = {name: lr for name, lr in MODEL_LR.items() if name in names}
    args.model_lr = {**own, **args.model_lr}
    return specs


def _model_lrs(p: argparse.ArgumentParser, items: list[str] | dict) -> dict[str, float]:
    """``["NAME=LR", ...]`` -> ``{NAME: LR}`` (usage errors for bad items or names)."""
    if isinstance(items, dict):  # already parsed
        return items
    known = set(all_models())
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


def _to_train(
    specs: list[str], args: argparse.Namespace, out: Path, settings: dict
) -> list[str] | None:
    """Resume: the specs without a finished record in ``out`` (the others are reported again),
    or None (after a message) where ``out`` holds records of other settings or options."""
    old = read_json(out / "results.json")
    if not args.worker and old is not None and old.get("settings") != settings:
        print(
            f"regconv bench budget: {out} holds results of other settings "
            f"({differences(old.get('settings') or {}, settings)}); use another --out",
            file=sys.stderr,
        )
        return None
    todo = []
    for spec in specs:
        rec = read_json(record_path(out, spec))
        if rec is None or not rec.get("finished"):
            todo.append(spec)
            continue
        options = json.loads(json.dumps(spec_options(spec, args.hidden)[1]))  # as stored
        lr = {"lr": model_lr(spec, args)}
        old_lr = {"lr": rec.get("lr", settings["lr"])}  # records without "lr" ran at --lr
        if rec.get("settings") != settings or rec.get("options") != options or old_lr != lr:
            print(
                f"regconv bench budget: {out} holds a result of {spec} with other settings or "
                f"options ({differences(rec.get('settings') or {}, settings)}"
                f"{differences(rec.get('options') or {}, options)}"
                f"{differences(old_lr, lr)}); use another --out",
                file=sys.stderr,
            )
            return None
        if not args.worker:
            print(f"[budget] {spec}: already finished in {out}, skipped", file=sys.stderr)
            print(json_line(rec, resumed=True), flush=True)
    return todo


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (``argv`` None: ``sys.argv[1:]``); the exit code (1: a model failed)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    specs = _check_args(parser, args)
    if args.out is None:
        args.out = f"runs/budget-{datetime.date.today().isoformat()}"
    out = Path(args.out)
    command = args.command or "regconv bench budget " + shlex.join(argv)
    threads = args.threads or (1 if args.jobs > 1 else torch.get_num_threads())
    torch.set_num_threads(threads)
    settings = settings_of(args)

    from regconv.bench import machine_info
    from regconv.utils.io import atomic_write_text

    # resume: refuse records of other settings, skip finished ones
    todo = _to_train(specs, args, out, settings)
    if todo is None:
        return 2

    machine = machine_info()
    (out / "models").mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    if args.jobs > 1 and len(todo) > 1:
        write_summary(out, settings, specs, machine, command)
        failed = run_parallel(todo, args, out, command, threads)
    else:
        for spec in todo:
            print(f"[budget] training {spec} for {args.minutes:g} min", file=sys.stderr)
            try:
                rec = train_one(spec, args, command)
            except Exception as e:  # keep going: the others still run, a rerun retries this one
                if args.worker:
                    raise
                failed.append(spec)
                print(f"[budget] {spec} FAILED: {type(e).__name__}: {e}", file=sys.stderr)
                continue
            atomic_write_text(record_path(out, spec), json.dumps(rec, indent=1) + "\n")
            print(json_line(rec), flush=True)
            if not args.worker:
                write_summary(out, settings, specs, machine, command)
    if not args.worker:
        write_summary(out, settings, specs, machine, command)
        print(
            f"[budget] results: {out / 'results.json'}, table: {out / 'table.md'}", file=sys.stderr
        )
    if failed:
        print(
            f"[budget] failed: {' '.join(failed)} (rerun the same command to retry)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
