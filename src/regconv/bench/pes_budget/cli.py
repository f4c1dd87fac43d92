"""The command line of the energy + force budget benchmark: ``python -m regconv.bench
pes-budget`` (also ``python -m regconv.bench.pes_budget``), argument checks and resume.

Resume: a model whose record is already in ``--out`` with the same settings is skipped (its
record is printed again), so an interrupted run loses at most the models in flight; a record of
other settings is refused (exit code 2).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import sys
from pathlib import Path

from regconv.bench.budget.report import differences, json_line, read_json, record_path
from regconv.bench.pes_budget.report import write_summary
from regconv.bench.pes_budget.specs import default_models, spec_lr, spec_options
from regconv.bench.pes_budget.worker import settings_of
from regconv.utils.checks import check_int, check_positive

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The options of the benchmark."""
    p = argparse.ArgumentParser(
        prog="python -m regconv.bench pes-budget",
        description="Train energy + force models for the same wall-clock budget on the same "
        "MD17-class frames and compare test energy and force MAE (see regconv.bench.pes_budget).",
        allow_abbrev=False,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--molecule", help="a generated GFN2-xTB set (e.g. aspirin)")
    src.add_argument("--path", help="a user's rMD17 / sGDML .npz, extended XYZ or ASE .db file")
    p.add_argument("--frames", type=int, default=None, help="size of the generated set")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the 950 / 50 / rest split")
    p.add_argument("--test-size", type=int, default=5000, help="first T test frames")
    p.add_argument("--minutes", type=float, required=True, help="training budget per model")
    p.add_argument("--models", nargs="+", default=None, help="NAME[:key=value,...] specs")
    p.add_argument("--seed", type=int, default=0, help="initialisation and data order")
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--energy-weight", type=float, default=1.0)
    p.add_argument("--force-weight", type=float, default=100.0)
    p.add_argument("--ema-decay", type=float, default=0.99)
    p.add_argument("--warmup-fraction", type=float, default=0.05)
    p.add_argument("--min-lr-ratio", type=float, default=0.01)
    p.add_argument("--jobs", type=int, default=1, help="models trained at a time")
    p.add_argument("--threads", type=int, default=1, help="torch threads per model")
    p.add_argument("--out", default=None, help="output folder (default runs/pes-budget-<date>)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)
    return p


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    """Usage errors (exit code 2) for bad arguments; the model specs to run."""
    checks = [
        (check_positive, "--minutes", args.minutes),
        (check_int, "--batch-size", args.batch_size),
        (check_int, "--test-size", args.test_size),
        (check_int, "--jobs", args.jobs),
        (check_int, "--threads", args.threads),
        (check_positive, "--lr", args.lr),
    ]
    for check, flag, value in checks:
        try:
            check(flag, value)
        except ValueError as e:
            p.error(str(e))
    if (
        args.energy_weight < 0
        or args.force_weight < 0
        or args.energy_weight + args.force_weight <= 0
    ):
        p.error("need --energy-weight >= 0 and --force-weight >= 0, not both 0")
    if not 0 <= args.ema_decay < 1:
        p.error("--ema-decay must be in [0, 1) (0: no EMA)")
    if not 0 <= args.warmup_fraction < 1 or not 0 <= args.min_lr_ratio <= 1:
        p.error("need 0 <= --warmup-fraction < 1 and 0 <= --min-lr-ratio <= 1")
    specs = list(args.models or default_models())
    if len(set(specs)) != len(specs):
        p.error("a model is listed twice")
    for spec in specs:
        try:
            spec_options(spec)
            spec_lr(spec, args.lr)
        except ValueError as e:
            p.error(str(e))
    return specs


def _worker_argv(args: argparse.Namespace, spec: str, command: str, threads: int) -> list[str]:
    argv = [sys.executable, "-m", "regconv.bench.pes_budget", "--worker", "--models", spec]
    argv += ["--molecule", args.molecule] if args.molecule else ["--path", args.path]
    if args.frames is not None:
        argv += ["--frames", str(args.frames)]
    for flag in ("split_seed", "test_size", "minutes", "seed", "batch_size", "lr",
                 "energy_weight", "force_weight", "ema_decay", "warmup_fraction",
                 "min_lr_ratio", "out"):  # fmt: skip
        argv += ["--" + flag.replace("_", "-"), str(getattr(args, flag))]
    return argv + ["--threads", str(threads), "--command", command]


def _todo(specs: list[str], out: Path, settings: dict, quiet: bool) -> list[str] | None:
    todo = []
    for spec in specs:
        rec = read_json(record_path(out, spec))
        if rec is None or not rec.get("finished"):
            todo.append(spec)
            continue
        options = json.loads(json.dumps(spec_options(spec)[1]))  # as stored
        if rec.get("settings") != settings or rec.get("options") != options:
            print(
                f"pes-budget: {out} holds a result of {spec} with other settings or options "
                f"({differences(rec.get('settings') or {}, settings)}"
                f"{differences(rec.get('options') or {}, options)}); use another --out",
                file=sys.stderr,
            )
            return None
        if not quiet:
            print(f"[pes-budget] {spec}: already finished in {out}, skipped", file=sys.stderr)
            print(json_line(rec, resumed=True), flush=True)
    return todo


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit code (1: a model failed, 2: bad arguments or resume)."""
    import torch

    from regconv.bench.budget.worker import run_parallel
    from regconv.utils.io import atomic_write_text

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    specs = _check_args(parser, args)
    if args.out is None:
        args.out = f"runs/pes-budget-{datetime.date.today().isoformat()}"
    out = Path(args.out)
    command = args.command or "python -m regconv.bench pes-budget " + shlex.join(argv)
    settings = settings_of(args)
    todo = _todo(specs, out, settings, quiet=args.worker)
    if todo is None:
        return 2
    (out / "models").mkdir(parents=True, exist_ok=True)
    if not args.worker:
        failed = run_parallel(todo, args, out, command, args.threads, _worker_argv)
        write_summary(out, settings, specs, command)
        print(f"[pes-budget] results: {out / 'results.json'}, table: {out / 'table.md'}",
              file=sys.stderr)  # fmt: skip
        if failed:
            print(f"[pes-budget] failed: {' '.join(failed)} (rerun to retry)", file=sys.stderr)
            return 1
        return 0
    torch.set_num_threads(args.threads)
    for spec in todo:
        if spec_options(spec)[0] == "mace":
            from regconv.bench.pes_budget.mace import train_mace as train
        else:
            from regconv.bench.pes_budget.worker import train_one as train
        rec = {**train(spec, args, command), "settings": settings}
        atomic_write_text(record_path(out, spec), json.dumps(rec, indent=1, default=str) + "\n")
    return 0
