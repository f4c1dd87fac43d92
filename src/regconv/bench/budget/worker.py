"""Training one model of the budget benchmark, in this process or in worker processes.

``--jobs J`` trains ``J`` models at a time, each in its own single-threaded process (``--threads``
defaults to 1 then): on the 2-core dev machine ``--jobs 2`` halves the wall time of the whole
benchmark, at the price of throughputs measured with both cores busy.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning.pytorch as L
import torch

from regconv.bench.budget.report import json_line, read_json, record_path, settings_of
from regconv.bench.budget.specs import SPACES, file_name, parse_spec, references, spec_options
from regconv.bench.budget.task import BudgetTask

__all__ = ["Meter", "budget_trainer", "run_parallel", "train_one", "worker_argv"]


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*number of training batches.*")
    warnings.filterwarnings("ignore", message=r".*`isinstance\(treespec, LeafSpec\)`.*")
    warnings.filterwarnings("ignore", message=r".*You defined a `validation_step`.*")


class Meter(L.Callback):
    """Training molecules, the loss of every step and the start and end of the training."""

    def __init__(self) -> None:
        self.molecules = 0
        self.losses: list[float] = []
        self.t0 = self.t1 = None

    def on_train_start(self, trainer, pl_module) -> None:
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.molecules += int(batch.num_graphs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss))

    def on_train_end(self, trainer, pl_module) -> None:
        self.t1 = time.perf_counter()


def budget_trainer(budget_s: float, meter: Meter, accelerator: str = "cpu") -> L.Trainer:
    """The trainer of one budget run: ``max_time`` the budget, no validation, gradient clipping
    at 10, no logger, checkpoints or progress bar; ``meter`` measures it."""
    return L.Trainer(
        accelerator=accelerator,
        devices=1,
        max_time=datetime.timedelta(seconds=budget_s),
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        gradient_clip_val=10.0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[meter],
    )


def train_one(spec: str, args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train and test one model spec under the budget; return its record."""
    from regconv.bench import cpu_sampler, machine_info
    from regconv.training import QM9DataModule

    _quiet_lightning()
    name, options = spec_options(spec, args.hidden)
    settings = settings_of(args)
    budget_s = 60.0 * float(args.minutes)

    dm = QM9DataModule(
        target=args.target,
        scheme="dimenet",
        train_subset=args.train_size,
        val_subset=args.test_size if args.eval_split == "val" else 1,
        test_subset=args.test_size,
        batch_size=args.batch_size,
        eval_batch_size=max(args.batch_size, 64),
        seed=args.seed,
    )
    L.seed_everything(args.seed, verbose=False)
    task = BudgetTask(
        model=name,
        model_options=options,
        task=dm.task_spec,
        lr=model_lr(spec, args),
        weight_decay=args.weight_decay,
        ema_decay=args.ema_decay if args.ema_decay > 0 else None,
        seed=args.seed,
        budget_s=budget_s,
        warmup_fraction=args.warmup_fraction,
        min_lr_ratio=args.min_lr_ratio,
    )
    params = sum(p.numel() for p in task.net.parameters())

    meter = Meter()
    trainer = budget_trainer(budget_s, meter, args.accelerator)
    with cpu_sampler() as load:
        trainer.fit(task, datamodule=dm)
    if trainer.interrupted or meter.t1 is None:
        raise RuntimeError(f"training of {spec} was interrupted")
    train_s = meter.t1 - meter.t0
    t = time.perf_counter()
    if args.eval_split == "val":  # model selection: the first T validation molecules
        trainer.test(task, dataloaders=dm.val_dataloader(), verbose=False)
    else:
        trainer.test(task, datamodule=dm, verbose=False)
    test_s = time.perf_counter() - t

    res = task.last_results["test"]
    tgt = res["targets"][args.target]
    steps = int(task.global_step)
    per_epoch = args.train_size // args.batch_size
    tail = meter.losses[-max(1, len(meter.losses) // 10) :]
    machine = machine_info()
    return {
        "benchmark": "budget",
        "model": spec,
        "name": name,
        "kind": "pyg-reference" if name in references() else "regconv",
        "space": SPACES.get(name, "?"),
        "options": options,
        "lr": model_lr(spec, args),
        "params": int(params),
        "target": args.target,
        "test_mae": float(tgt["mae"]),
        "test_rmse": float(tgt["rmse"]),
        "unit": tgt["unit"],
        "test_count": int(res["count"]),
        "eval_split": args.eval_split,
        "steps": steps,
        "epochs": round(steps / per_epoch, 3) if per_epoch else None,
        "molecules": int(meter.molecules),
        "molecules_per_s": round(meter.molecules / train_s, 2) if train_s > 0 else None,
        "train_s": round(train_s, 2),
        "test_s": round(test_s, 2),
        "final_train_loss": round(sum(tail) / len(tail), 5) if tail else None,
        "final_lr_multiplier": round(task.schedule.multiplier(task.schedule.fraction()), 6),
        "load": load,
        "settings": settings,
        "command": command,
        "date": machine["date"],
        "torch_threads": torch.get_num_threads(),
        "machine": machine,
        "finished": True,
    }


def worker_argv(args: argparse.Namespace, spec: str, command: str, threads: int) -> list[str]:
    """The command line of the worker process that trains ``spec`` with this run's settings."""
    options = {
        "--minutes": repr(float(args.minutes)),
        "--target": args.target,
        "--train-size": str(args.train_size),
        "--test-size": str(args.test_size),
        "--eval-split": args.eval_split,
        "--seed": str(args.seed),
        "--batch-size": str(args.batch_size),
        "--lr": repr(args.lr),
        "--weight-decay": repr(args.weight_decay),
        "--warmup-fraction": repr(args.warmup_fraction),
        "--min-lr-ratio": repr(args.min_lr_ratio),
        "--ema-decay": repr(args.ema_decay),
        "--accelerator": args.accelerator,
        "--threads": str(threads),
        "--jobs": "1",
        "--out": str(args.out),
        "--command": command,
        "--models": spec,
    }
    if args.hidden is not None:
        options["--hidden"] = str(args.hidden)
    argv = [sys.executable, "-m", "regconv.bench.budget", "--worker"]
    for flag, value in options.items():
        argv += [flag, value]
    name = parse_spec(spec)[0]
    if name in args.model_lr:
        argv += ["--model-lr", f"{name}={args.model_lr[name]!r}"]
    return argv


def model_lr(spec: str, args: argparse.Namespace) -> float:
    """The peak learning rate of ``spec``: its model's ``--model-lr``, else ``--lr``."""
    return float(getattr(args, "model_lr", {}).get(parse_spec(spec)[0], args.lr))


def run_parallel(
    specs: list[str],
    args: argparse.Namespace,
    out: Path,
    command: str,
    threads: int,
    argv_of: Callable[[argparse.Namespace, str, str, int], list[str]] | None = None,
) -> list[str]:
    """Train ``specs`` in up to ``args.jobs`` worker processes (command lines from ``argv_of``,
    default :func:`worker_argv`); return the specs that failed."""
    argv_of = worker_argv if argv_of is None else argv_of
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    (out / "logs").mkdir(parents=True, exist_ok=True)
    pending, running, failed = list(specs), {}, []
    while pending or running:
        while pending and len(running) < args.jobs:
            spec = pending.pop(0)
            log = open(out / "logs" / f"{file_name(spec)}.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(
                argv_of(args, spec, command, threads),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            running[spec] = (proc, log)
            print(f"[budget] started {spec} (pid {proc.pid}, log {log.name})", file=sys.stderr)
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
                    f"[budget] {spec} FAILED (exit {proc.returncode}); see {log.name}",
                    file=sys.stderr,
                )
                continue
            print(json_line(rec), flush=True)
    return failed
