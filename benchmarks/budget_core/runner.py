"""Running a same-budget harness: resume by whole models, in this process or in workers.

Resume: a model whose record is already in ``--out`` is skipped (its record is printed again),
so an interrupted run loses at most the models in flight; rerun the same command. A folder
whose results, or a record of one of the models, were made with other settings or options is
refused (exit code 2): use another ``--out``.

``--jobs J`` (J > 1, more than one model to train) trains ``J`` models at a time, each in its
own process (``python -m benchmarks NAME ... --worker --models SPEC``, its output in
``logs/<spec>.log``); otherwise the models train one after the other in this process, and a
model that fails does not stop the others (exit code 1 at the end; a rerun retries it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.budget_core.records import (
    differences,
    file_name,
    json_line,
    order_by_request,
    read_json,
    record_path,
    write_summary,
)
from benchmarks.processes import child_env, harness_command

__all__ = [
    "Harness",
    "add_run_arguments",
    "check_run_arguments",
    "pending",
    "run",
    "run_parallel",
    "worker_argv",
]


@dataclass(frozen=True)
class Harness:
    """What makes one same-budget harness.

    Attributes:
        name: its ``python -m benchmarks`` name (also the label of its messages, the default
            output folder ``runs/<name>-<date>`` and ``results.json``'s ``benchmark``).
        settings_of: ``args -> dict``: what must agree between records to compare (and resume).
        identity_of: ``(spec, args) -> dict``: the fields of a spec's record that must agree too
            (its options, its learning rate); a record without one of them ran at the settings'
            value of the same key.
        train: ``(spec, args, command) -> record``: train and test one model spec (:func:`run`
            adds the record's ``benchmark``, the harness's name, and its ``settings``).
        render_table: ``(records, settings, machine, command) -> str``: ``table.md``.
        order: ``(records, requested specs) -> records``: the order of the table.
    """

    name: str
    settings_of: Callable[[argparse.Namespace], dict[str, Any]]
    identity_of: Callable[[str, argparse.Namespace], dict[str, Any]]
    train: Callable[[str, argparse.Namespace, str], dict[str, Any]]
    render_table: Callable[[list[dict], dict, dict, str], str]
    order: Callable[[list[dict], list[str]], list[dict]] = field(default=order_by_request)


def add_run_arguments(p: argparse.ArgumentParser, name: str, threads: int | None) -> None:
    """``--jobs``, ``--threads`` (default ``threads``; None: torch's, 1 with ``--jobs`` > 1),
    ``--out`` and the workers' hidden ``--worker`` and ``--command``."""
    p.add_argument("--jobs", type=int, default=1, help="models trained at a time, in subprocesses")
    p.add_argument(
        "--threads",
        type=int,
        default=threads,
        help="torch threads per model"
        + (f" (default {threads})" if threads else " (default: torch's, 1 with --jobs > 1)"),
    )
    p.add_argument("--out", default=None, help=f"output folder (default runs/{name}-<date>)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--command", default=None, help=argparse.SUPPRESS)


def check_run_arguments(
    p: argparse.ArgumentParser, args: argparse.Namespace, specs: list[str]
) -> None:
    """Usage errors (``p.error``, exit code 2) for the arguments every same-budget run has, each
    naming its option: ``--jobs`` and ``--threads`` (integers >= 1), the time schedule
    (``--ema-decay`` in [0, 1), 0: no EMA; ``--warmup-fraction`` in [0, 1); ``--min-lr-ratio``
    in [0, 1]) and the model specs ``specs`` (none listed twice)."""
    from regconv.utils.checks import check_int

    try:
        check_int("--jobs", args.jobs)
        if args.threads is not None:
            check_int("--threads", args.threads)
    except ValueError as e:
        p.error(str(e))
    if not 0 <= args.ema_decay < 1:
        p.error(f"--ema-decay must be in [0, 1) (0: no EMA), got {args.ema_decay!r}")
    if not 0 <= args.warmup_fraction < 1:
        p.error(f"--warmup-fraction must be in [0, 1), got {args.warmup_fraction!r}")
    if not 0 <= args.min_lr_ratio <= 1:
        p.error(f"--min-lr-ratio must be in [0, 1], got {args.min_lr_ratio!r}")
    twice = sorted({s for s in specs if specs.count(s) > 1})
    if twice:
        p.error(f"--models: a model is listed twice: {' '.join(twice)}")


def _identity(harness: Harness, spec: str, args: argparse.Namespace, settings: dict) -> dict:
    return {"settings": settings, **json.loads(json.dumps(harness.identity_of(spec, args)))}


def pending(
    harness: Harness, specs: list[str], args: argparse.Namespace, out: Path, settings: dict
) -> list[str] | None:
    """The specs without a finished record in ``out`` (the finished ones are printed again,
    except in a worker), or None (after a message) where ``out`` holds records of other
    settings or options."""
    old = read_json(out / "results.json")
    if not args.worker and old is not None and old.get("settings") != settings:
        print(
            f"{harness.name}: {out} holds results of other settings "
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
        want = _identity(harness, spec, args, settings)
        have = {key: rec.get(key, settings.get(key)) for key in want}
        if have != want:
            diff = "; ".join(
                differences(have[k] or {}, want[k])
                if isinstance(want[k], dict)
                else f"{k}: {have[k]!r} vs {want[k]!r}"
                for k in want
                if have[k] != want[k]
            )
            print(
                f"{harness.name}: {out} holds a result of {spec} with other settings or "
                f"options ({diff}); use another --out",
                file=sys.stderr,
            )
            return None
        if not args.worker:
            print(f"[{harness.name}] {spec}: already finished in {out}, skipped", file=sys.stderr)
            print(json_line(rec, resumed=True), flush=True)
    return todo


def worker_argv(name: str, argv: list[str], spec: str, out: Path, command: str, threads: int):
    """The command line of the worker that trains ``spec``: this run's own arguments ``argv``
    with the model, one job, the threads, the folder and the command line given last (the last
    occurrence of an option wins)."""
    return [*harness_command(name), *argv, "--worker", "--models", spec, "--jobs", "1",
            "--threads", str(threads), "--out", str(out), "--command", command]  # fmt: skip


def run_parallel(
    name: str,
    specs: list[str],
    jobs: int,
    out: Path,
    argv_of: Callable[[str], list[str]],
    threads: int,
) -> list[str]:
    """Train ``specs`` in up to ``jobs`` worker processes (command lines ``argv_of(spec)``,
    ``threads`` OpenMP threads each); print each finished record; return the specs that
    failed."""
    env = child_env(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    (out / "logs").mkdir(parents=True, exist_ok=True)
    pending_specs, running, failed = list(specs), {}, []
    while pending_specs or running:
        while pending_specs and len(running) < jobs:
            spec = pending_specs.pop(0)
            log = open(out / "logs" / f"{file_name(spec)}.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(argv_of(spec), stdout=log, stderr=subprocess.STDOUT, env=env)
            running[spec] = (proc, log)
            print(f"[{name}] started {spec} (pid {proc.pid}, log {log.name})", file=sys.stderr)
        time.sleep(0.5)
        for spec, (proc, log) in list(running.items()):
            if proc.poll() is None:
                continue
            log.close()
            del running[spec]
            rec = read_json(record_path(out, spec))
            if proc.returncode != 0 or not rec:
                failed.append(spec)
                print(
                    f"[{name}] {spec} FAILED (exit {proc.returncode}); see {log.name}",
                    file=sys.stderr,
                )
                continue
            print(json_line(rec), flush=True)
    return failed


def run(harness: Harness, args: argparse.Namespace, specs: list[str], argv: list[str]) -> int:
    """Train (or resume) ``specs`` with the checked ``args`` (``argv``: the command line they
    came from); the exit code (1: a model failed, 2: a folder of other settings)."""
    import torch

    from regconv.bench import machine_info
    from regconv.utils.io import atomic_write_text

    name = harness.name
    if args.out is None:
        args.out = f"runs/{name}-{datetime.date.today().isoformat()}"
    out = Path(args.out)
    command = args.command or f"python -m benchmarks {name} " + shlex.join(argv)
    threads = args.threads or (1 if args.jobs > 1 else torch.get_num_threads())
    torch.set_num_threads(threads)
    settings = harness.settings_of(args)
    todo = pending(harness, specs, args, out, settings)
    if todo is None:
        return 2

    machine = machine_info()
    (out / "models").mkdir(parents=True, exist_ok=True)
    summary = partial(
        write_summary, out, benchmark=name, settings=settings, requested=specs, machine=machine,
        command=command, order=harness.order, render_table=harness.render_table,
    )  # fmt: skip
    failed: list[str] = []
    if args.jobs > 1 and len(todo) > 1 and not args.worker:
        summary()
        argv_of = partial(worker_argv, name, argv, out=out, command=command, threads=threads)
        failed = run_parallel(name, todo, args.jobs, out, argv_of, threads)
    else:
        for spec in todo:
            print(f"[{name}] training {spec} for {args.minutes:g} min", file=sys.stderr)
            try:
                rec = {"benchmark": name, **harness.train(spec, args, command),
                       "settings": settings}  # fmt: skip
            except Exception as e:  # keep going: the others still run, a rerun retries this one
                if args.worker:
                    raise
                failed.append(spec)
                print(f"[{name}] {spec} FAILED: {type(e).__name__}: {e}", file=sys.stderr)
                continue
            text = json.dumps(rec, indent=1, default=str) + "\n"
            atomic_write_text(record_path(out, spec), text)
            print(json_line(rec), flush=True)
            if not args.worker:
                summary()
    if not args.worker:
        summary()
        print(f"[{name}] results: {out / 'results.json'}, table: {out / 'table.md'}",
              file=sys.stderr)  # fmt: skip
    if failed:
        print(f"[{name}] failed: {' '.join(failed)} (rerun the same command to retry)",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0
