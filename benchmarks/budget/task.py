"""The QM9 task of the budget benchmark: its settings, the PyG references beside the registry,
and the training and test of one model spec (its record)."""

from __future__ import annotations

import argparse
import time
from typing import Any

import lightning.pytorch as L

from benchmarks.budget.specs import REFERENCES, SPACES, parse_spec, spec_options
from benchmarks.budget_core import BudgetTask, Meter, budget_trainer, quiet_lightning, run_facts

__all__ = ["QM9BudgetTask", "identity_of", "model_lr", "settings_of", "train_one"]


class QM9BudgetTask(BudgetTask):
    """:class:`~benchmarks.budget_core.BudgetTask` that also trains PyTorch Geometric's
    references (``schnet-pyg``, ``dimenet++-pyg``: only here, not in the registry)."""

    EXTRA_NETS = REFERENCES


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """What must agree between records for them to be compared (and resumed)."""
    return {
        "dataset": "qm9",
        "scheme": "dimenet",
        "target": args.target,
        "minutes": float(args.minutes),
        "train_size": int(args.train_size),
        "test_size": int(args.test_size),
        "batch_size": int(args.batch_size),
        "seed": int(args.seed),
        "optimizer": "adamw",
        "lr": float(args.lr),
        "weight_decay": float(args.weight_decay),
        "schedule": "warm-up + cosine in the elapsed fraction of the time budget",
        "warmup_fraction": float(args.warmup_fraction),
        "min_lr_ratio": float(args.min_lr_ratio),
        "ema_decay": float(args.ema_decay),
        "gradient_clip_val": 10.0,
        "loss": "l1",
        "standardize": "mean/std of the training subset",
        "accelerator": args.accelerator,
        # only when it is not the default, so that older test-split records still resume
        **({"eval_split": args.eval_split} if args.eval_split != "test" else {}),
    }


def model_lr(spec: str, args: argparse.Namespace) -> float:
    """The peak learning rate of ``spec``: its model's ``--model-lr``, else ``--lr``."""
    return float(getattr(args, "model_lr", {}).get(parse_spec(spec)[0], args.lr))


def identity_of(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of a finished record that must agree to resume it: options and rate."""
    return {"options": spec_options(spec, args.hidden)[1], "lr": model_lr(spec, args)}


def train_one(spec: str, args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train and test one model spec under the budget; return its record."""
    from regconv.bench import cpu_sampler
    from regconv.training import QM9DataModule

    quiet_lightning()
    name, options = spec_options(spec, args.hidden)
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
    task = QM9BudgetTask(
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
    return {
        "model": spec,
        "name": name,
        "kind": "pyg-reference" if name in REFERENCES else "regconv",
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
        **run_facts(load, command),
    }
