r"""Same-budget, same-data comparison on QM9: every model trains for the same wall-clock time.

    regconv bench budget --minutes 20 --target homo --train-size 10000 \
        [--models all | NAME[:key=value,...] ...] [--seed 0] [--batch-size 32] [--test-size 1000] \
        [--out runs/budget-<date>] [--jobs 1] [--threads N] [--hidden H] [--lr 5e-4]
    python -m regconv.bench.budget ...          (the same)

Protocol
--------
- Models: every registry model (``regconv.models.available()``) and PyTorch Geometric's SchNet
  and DimeNet++ (``schnet-pyg``, ``dimenet++-pyg``, from :mod:`regconv.bench.references`, on
  regconv's radius graph and plain-torch triplets) as outside references. ``--models all`` (the
  default) runs all of them, in that order; ``NAME:key=value,...`` overrides constructor options
  of one model (``r3s2:num_orientations=16``) and the result is recorded under that spec.
- Data: the first ``--train-size`` molecules of the ``dimenet`` train split of QM9 for training
  (reshuffled every epoch by ``--seed``; the last incomplete batch dropped) and the first
  ``--test-size`` molecules of the ``dimenet`` test split for the test. No validation during
  training. ``--eval-split val`` evaluates on the first ``--test-size`` molecules of the
  validation split instead (reported in the same fields): for choosing model options without
  looking at the test molecules.
- Training: :class:`regconv.training.RegressionTask` (the same LightningModule as
  ``regconv fit``) under Lightning's ``Trainer(max_time=--minutes)``, the same for every model:
  seed ``--seed`` (initialisation and data order), AdamW (``--lr`` 5e-4, ``--weight-decay`` 0),
  gradient clipping at 10, L1 loss on targets standardised with the mean and std of the training
  subset, EMA of the weights (decay 0.999, with the task's ``(1+n)/(10+n)`` ramp) used for the
  test, batch ``--batch-size``.
- Schedule: a function of the **elapsed fraction of the time budget**
  ``f = (time since the start of training) / budget`` (:class:`TimeWarmupCosine`), re-evaluated
  after every optimizer step: linear warm-up from 1 % to 100 % of ``--lr`` over
  ``f < --warmup-fraction`` (0.05), then cosine decay to ``--min-lr-ratio`` (0) at ``f = 1``. So
  every model ends its decay exactly when its budget runs out, whatever its speed, and a change of
  machine load during a run cannot cut the decay short or leave it finished early. The price:
  the steps of a run depend on its speed, so runs are not bit-reproducible.
- Reported per model: test MAE (and RMSE) in the target's unit (meV for ``homo``), parameter
  count, optimizer steps, epochs (steps / batches per epoch), training throughput (molecules per
  second of training wall time, data loading included, from the start of training to its end),
  the CPU load around the training (:func:`regconv.bench.cpu_sampler`), the machine, torch
  threads, date and the command line.

Default sizes (CPU budgets; ``--hidden`` overrides ``hidden`` of every model, ``NAME:key=value``
any option of one):

=================  ======================================================================
model              options
=================  ======================================================================
r3, r3s2-edge,     hidden 64, 4 layers, basis 64, cutoff 5 Å (the same for all regconv
se3                models wherever the option exists)
r3s2,              as above, 8 orientations (grid fibre)
r3s2-attention
schnet             hidden 64, 6 interactions (the paper's depth), cutoff 5 Å
egnn               hidden 64, 7 layers, cutoff 5 Å, ``update_coords=False, soft_edges=True``
                   (the paper's QM9 setup)
dimenet,           hidden 64, 4 blocks (the paper's depth), cutoff 5 Å
spherenet
schnet-pyg         PyG SchNet: hidden 128, 128 filters, 6 interactions, 50 Gaussians, 5 Å
dimenet++-pyg      PyG DimeNet++: hidden 128, 4 blocks, int 64, basis 8, out 256, 5 Å
=================  ======================================================================

(One training thread, batch 32, on the 2-core dev machine under load: r3 ~590 molecules/s,
schnet ~480, egnn ~310, dimenet ~100, r3s2 ~90, r3s2-attention ~70, spherenet ~65,
r3s2-edge ~50, se3 ~30, schnet-pyg ~200, dimenet++-pyg ~28; so 20 minutes is between ~2,000
and ~40,000 steps.)

Output
------
One JSON line per model on standard output (also for models skipped because they are already
finished), and in ``--out``:

- ``models/<spec>.json``: the record of each finished model (written atomically when it ends);
- ``results.json``: the settings, this invocation's machine and command line, and the records of
  every finished model;
- ``table.md``: model, space, params, molecules/s, steps, test MAE;
- ``logs/<spec>.log``: the output of each worker process (``--jobs`` > 1 only).

Resume: a model whose record is already in ``--out`` is skipped, so an interrupted run loses at
most the models in flight; rerun the same command. Records made with other settings (budget,
sizes, seed, optimiser, ...) or other model options are refused (exit code 2): use another
``--out``.

``--jobs J`` trains ``J`` models at a time, each in its own single-threaded process (``--threads``
defaults to 1 then): on the 2-core dev machine ``--jobs 2`` halves the wall time of the whole
benchmark, at the price of throughputs measured with both cores busy.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import logging
import math
import os
import re
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Literal

import torch

from regconv.training import RegressionTask

__all__ = [
    "BudgetTask",
    "TimeWarmupCosine",
    "all_models",
    "default_options",
    "main",
    "parse_spec",
    "train_one",
]

#: The space of each model (for the table); see ``docs/models.md``.
SPACES = {
    "r3": "R^3",
    "r3s2": "R^3 x S^2 (grid)",
    "r3s2-edge": "R^3 x S^2 (edge cloud)",
    "se3": "SE(3) (finite group)",
    "schnet": "R^3",
    "egnn": "R^3",
    "dimenet": "R^3 x S^2 (edge cloud)",
    "spherenet": "R^3 x S^2 (edge cloud)",
    "r3s2-attention": "R^3 x S^2 (grid)",
    "schnet-pyg": "R^3",
    "dimenet++-pyg": "R^3 x S^2 (edge cloud)",
}

#: Options shared by every model that has them, then per-model ones (see the module docstring).
COMMON_OPTIONS = {"hidden": 64, "layers": 4, "basis_dim": 64, "cutoff": 5.0}
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "r3s2": {"num_orientations": 8},
    "r3s2-attention": {"num_orientations": 8},
    "schnet": {"layers": 6},
    "egnn": {"layers": 7, "update_coords": False, "soft_edges": True},
    "schnet-pyg": {"hidden": 128, "interactions": 6, "cutoff": 5.0},
    "dimenet++-pyg": {"hidden": 128, "blocks": 4, "cutoff": 5.0},
}


# ------------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------------


def _references() -> dict[str, type]:
    from regconv.bench.references import REFERENCES

    return dict(REFERENCES)


def all_models() -> list[str]:
    """Registry models (sorted), then the PyG references."""
    from regconv import models

    return models.available() + sorted(_references())


def _accepted_options(name: str) -> dict[str, Any]:
    import inspect

    from regconv import models

    refs = _references()
    if name in refs:
        sig = inspect.signature(refs[name])
        return {k: p.default for k, p in sig.parameters.items() if k != "num_outputs"}
    if name not in models.available():
        raise ValueError(f"unknown model {name!r}; available: {', '.join(all_models())}")
    return models.options(name)


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"r3s2:num_orientations=16,hidden=32"`` -> ``("r3s2", {"num_orientations": 16,
    "hidden": 32})``; values are Python literals (else strings)."""
    name, _, rest = spec.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"bad model spec {spec!r}: expected NAME:key=value,...")
        try:
            overrides[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            overrides[key.strip()] = value.strip()
    return name.strip(), overrides


def default_options(name: str, hidden: int | None = None) -> dict[str, Any]:
    """The benchmark's constructor options of ``name`` (see the module docstring)."""
    accepted = _accepted_options(name)
    if name in _references():
        options = dict(MODEL_OPTIONS.get(name, {}))
    else:
        options = {k: v for k, v in COMMON_OPTIONS.items() if k in accepted}
        options.update(MODEL_OPTIONS.get(name, {}))
    if hidden is not None and "hidden" in accepted:
        options["hidden"] = int(hidden)
    return options


def spec_options(spec: str, hidden: int | None = None) -> tuple[str, dict[str, Any]]:
    """Registry/reference name and the full options of a model spec (defaults + overrides)."""
    name, overrides = parse_spec(spec)
    accepted = _accepted_options(name)
    reserved = {"num_outputs", "output", "in_features", "vector_in"}
    bad = sorted(set(overrides) - (set(accepted) - reserved))
    if bad:
        raise ValueError(
            f"model {name!r} has no option(s) {bad}; its options: "
            f"{sorted(set(accepted) - reserved)}"
        )
    options = default_options(name, hidden)
    options.update(overrides)
    return name, options


def _safe(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", spec).strip("_") or "model"


# ------------------------------------------------------------------------------------------------
# the schedule and the task
# ------------------------------------------------------------------------------------------------


class TimeWarmupCosine:
    """Learning-rate multiplier as a function of the elapsed fraction ``f`` of a time budget (use
    with ``LambdaLR``; the step argument is ignored, the clock is read at every call).

    ``f < warmup``: linear from ``start_ratio`` to 1; then cosine from 1 to ``min_ratio`` at
    ``f = 1`` (constant after). Before :meth:`start` is called ``f = 0``.
    """

    def __init__(
        self,
        budget_s: float,
        warmup_fraction: float = 0.05,
        min_ratio: float = 0.0,
        start_ratio: float = 0.01,
    ) -> None:
        if not budget_s > 0:
            raise ValueError(f"budget_s must be > 0, got {budget_s}")
        if not 0.0 <= warmup_fraction < 1.0:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
        if not 0.0 <= min_ratio <= 1.0 or not 0.0 < start_ratio <= 1.0:
            raise ValueError("need 0 <= min_ratio <= 1 and 0 < start_ratio <= 1")
        self.budget_s = float(budget_s)
        self.warmup_fraction = float(warmup_fraction)
        self.min_ratio = float(min_ratio)
        self.start_ratio = float(start_ratio)
        self.t0: float | None = None

    def start(self) -> None:
        self.t0 = time.monotonic()

    def fraction(self) -> float:
        if self.t0 is None:
            return 0.0
        return min(1.0, max(0.0, (time.monotonic() - self.t0) / self.budget_s))

    def multiplier(self, f: float) -> float:
        w = self.warmup_fraction
        if f < w:
            return self.start_ratio + (1.0 - self.start_ratio) * f / w
        t = min(1.0, (f - w) / (1.0 - w))
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))

    def __call__(self, step: int) -> float:
        return self.multiplier(self.fraction())


class BudgetTask(RegressionTask):
    """:class:`regconv.training.RegressionTask` with (1) the PyG references as extra networks
    (only here, not in the registry) and (2) the time-fraction schedule
    :class:`TimeWarmupCosine` over ``budget_s`` seconds. Everything else (standardisation, L1
    loss, EMA, metrics, the training and test steps) is the task's."""

    def __init__(
        self,
        model: str = "r3",
        model_options: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        optimizer: Literal["adam", "adamw"] = "adamw",
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        ema_decay: float | None = 0.999,
        seed: int = 0,
        budget_s: float = 60.0,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.0,
    ) -> None:
        super().__init__(
            model=model,
            model_options=model_options,
            task=task,
            loss="l1",
            standardize=True,
            per_atom=True,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            min_lr_ratio=min_lr_ratio,
            ema_decay=ema_decay,
            seed=seed,
        )
        self.schedule = TimeWarmupCosine(budget_s, warmup_fraction, min_lr_ratio)

    def build_net(self, name: str, options: dict[str, Any]) -> torch.nn.Module:
        refs = _references()
        if name not in refs:
            return super().build_net(name, options)
        spec = self.spec
        if spec.kind != "graph" or spec.in_features or spec.vector_in:
            raise ValueError(
                f"{name} predicts graph invariants from atomic numbers only; this task is "
                f"{spec.to_dict()}"
            )
        return refs[name](num_outputs=spec.num_outputs, **options)

    def configure_optimizers(self):
        hp = self.hparams
        cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
        opt = cls(self.net.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, self.schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_train_start(self) -> None:
        super().on_train_start()
        self.schedule.start()


# ------------------------------------------------------------------------------------------------
# one model
# ------------------------------------------------------------------------------------------------


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


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*number of training batches.*")
    warnings.filterwarnings("ignore", message=r".*`isinstance\(treespec, LeafSpec\)`.*")
    warnings.filterwarnings("ignore", message=r".*You defined a `validation_step`.*")


def train_one(spec: str, args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train and test one model spec under the budget; return its record."""
    import lightning.pytorch as L

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
        lr=args.lr,
        weight_decay=args.weight_decay,
        ema_decay=args.ema_decay if args.ema_decay > 0 else None,
        seed=args.seed,
        budget_s=budget_s,
        warmup_fraction=args.warmup_fraction,
        min_lr_ratio=args.min_lr_ratio,
    )
    params = sum(p.numel() for p in task.net.parameters())

    class Meter(L.Callback):
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

    meter = Meter()
    trainer = L.Trainer(
        accelerator=args.accelerator,
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
        "kind": "pyg-reference" if name in _references() else "regconv",
        "space": SPACES.get(name, "?"),
        "options": options,
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


# ------------------------------------------------------------------------------------------------
# output
# ------------------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _diff(a: dict, b: dict) -> str:
    keys = sorted(set(a) | set(b))
    return ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys if a.get(k) != b.get(k))


def _order(records: list[dict], requested: list[str]) -> list[dict]:
    canon = {n: i for i, n in enumerate(all_models())}
    req = {s: i for i, s in enumerate(requested)}

    def key(r):
        return (canon.get(r["name"], len(canon)), req.get(r["model"], len(req)), r["model"])

    return sorted(records, key=key)


def _fmt_mae(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def render_table(records: list[dict], settings: dict[str, Any], machine: dict, command: str) -> str:
    unit = records[0]["unit"] if records else ""
    s = settings
    lines = [
        f"# Same-budget QM9 comparison: {s['target']}, {s['minutes']:g} min per model",
        "",
        f"Train: first {s['train_size']} molecules of the dimenet train split; test: first "
        f"{s['test_size']} of the dimenet {s.get('eval_split', 'test')} split. "
        f"Batch {s['batch_size']}, seed {s['seed']}, "
        f"AdamW lr {s['lr']:g} (weight decay {s['weight_decay']:g}), warm-up "
        f"{100 * s['warmup_fraction']:g} % then cosine to {s['min_lr_ratio']:g} x lr over the "
        f"elapsed fraction of the budget, gradient clip 10, L1 on standardised targets, EMA "
        f"{s['ema_decay']:g} weights for the test.",
        "",
        f"Machine: {machine.get('cpu')} ({machine.get('logical_cpus')} logical CPUs), torch "
        f"{machine.get('torch')}, {machine.get('torch_threads')} torch thread(s), "
        f"{machine.get('date')}.",
        "",
        f"Command: `{command}`",
        "",
        f"| model | space | params | molecules/s | steps "
        f"| {s.get('eval_split', 'test')} MAE ({unit}) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in records:
        mps = r.get("molecules_per_s")
        lines.append(
            f"| {r['model']} | {r['space']} | {r['params']:,} | "
            f"{'-' if mps is None else f'{mps:.1f}'} | {r['steps']:,} | {_fmt_mae(r['test_mae'])} |"
        )
    lines += ["", "Model options:", ""]
    for r in records:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items())
        extra = f"; {r['torch_threads']} thread(s), {r['date']}"
        busy = r.get("load", {}).get("others_cpu_fraction")
        if busy is not None:
            extra += f", other processes' CPU share during training {busy:.2f}"
        lines.append(f"- `{r['model']}`: {opts or 'defaults'}{extra}")
    return "\n".join(lines) + "\n"


def write_summary(
    out: Path, settings: dict, requested: list[str], machine: dict, command: str
) -> list[dict]:
    """Collect ``out/models/*.json`` into ``results.json`` and ``table.md`` (atomically)."""
    from regconv.utils.io import atomic_write_text

    records = []
    for path in sorted((out / "models").glob("*.json")):
        rec = _read_json(path)
        if rec and rec.get("finished") and rec.get("settings") == settings:
            records.append(rec)
    records = _order(records, requested)
    doc = {
        "benchmark": "budget",
        "settings": settings,
        "command": command,
        "machine": machine,
        "date": machine.get("date"),
        "torch_threads": machine.get("torch_threads"),
        "models": records,
    }
    atomic_write_text(out / "results.json", json.dumps(doc, indent=1, default=str) + "\n")
    atomic_write_text(out / "table.md", render_table(records, settings, machine, command))
    return records


def _line(record: dict, **extra) -> str:
    return json.dumps({**record, **extra}, default=str)


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
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
    p.add_argument("--lr", type=float, default=5e-4)
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


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> list[str]:
    from regconv.data import QM9_TARGETS

    if not args.minutes > 0:
        p.error("--minutes must be > 0")
    names = [t[0] if isinstance(t, tuple) else t for t in QM9_TARGETS]
    if args.target not in names:
        p.error(f"unknown --target {args.target!r}; valid: {' '.join(map(str, names))}")
    if args.batch_size < 1 or args.test_size < 1 or args.jobs < 1:
        p.error("--batch-size, --test-size and --jobs must be >= 1")
    if args.train_size < args.batch_size:
        p.error(f"--train-size {args.train_size} is smaller than one batch ({args.batch_size})")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if not 0 <= args.warmup_fraction < 1 or not 0 <= args.min_lr_ratio <= 1:
        p.error("need 0 <= --warmup-fraction < 1 and 0 <= --min-lr-ratio <= 1")
    if not 0 <= args.ema_decay < 1:
        p.error("--ema-decay must be in [0, 1) (0: no EMA)")
    specs = all_models() if args.models == ["all"] else list(args.models)
    if "all" in specs:
        p.error("'all' cannot be combined with model names")
    if len(set(specs)) != len(specs):
        p.error("a model is listed twice")
    for spec in specs:
        try:
            spec_options(spec, args.hidden)
        except ValueError as e:
            p.error(str(e))
    return specs


def _worker_argv(args: argparse.Namespace, spec: str, command: str, threads: int) -> list[str]:
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
    return argv


def _run_parallel(specs, args, out, command, threads) -> list[str]:
    """Train ``specs`` in up to ``args.jobs`` worker processes; return the specs that failed."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    (out / "logs").mkdir(parents=True, exist_ok=True)
    pending, running, failed = list(specs), {}, []
    while pending or running:
        while pending and len(running) < args.jobs:
            spec = pending.pop(0)
            log = open(out / "logs" / f"{_safe(spec)}.log", "w")  # noqa: SIM115
            proc = subprocess.Popen(
                _worker_argv(args, spec, command, threads),
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
            rec = _read_json(out / "models" / f"{_safe(spec)}.json")
            if proc.returncode != 0 or not rec:
                failed.append(spec)
                print(
                    f"[budget] {spec} FAILED (exit {proc.returncode}); see {log.name}",
                    file=sys.stderr,
                )
                continue
            print(_line(rec), flush=True)
    return failed


def main(argv: list[str] | None = None) -> int:
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
    old = _read_json(out / "results.json")
    if not args.worker and old is not None and old.get("settings") != settings:
        print(
            f"regconv bench budget: {out} holds results of other settings "
            f"({_diff(old.get('settings') or {}, settings)}); use another --out",
            file=sys.stderr,
        )
        return 2
    todo = []
    for spec in specs:
        rec = _read_json(out / "models" / f"{_safe(spec)}.json")
        if rec is None or not rec.get("finished"):
            todo.append(spec)
            continue
        options = json.loads(json.dumps(spec_options(spec, args.hidden)[1]))  # as stored
        if rec.get("settings") != settings or rec.get("options") != options:
            print(
                f"regconv bench budget: {out} holds a result of {spec} with other settings or "
                f"options ({_diff(rec.get('settings') or {}, settings)}"
                f"{_diff(rec.get('options') or {}, options)}); use another --out",
                file=sys.stderr,
            )
            return 2
        if not args.worker:
            print(f"[budget] {spec}: already finished in {out}, skipped", file=sys.stderr)
            print(_line(rec, resumed=True), flush=True)

    machine = machine_info()
    (out / "models").mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    if args.jobs > 1 and len(todo) > 1:
        write_summary(out, settings, specs, machine, command)
        failed = _run_parallel(todo, args, out, command, threads)
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
            atomic_write_text(
                out / "models" / f"{_safe(spec)}.json", json.dumps(rec, indent=1) + "\n"
            )
            print(_line(rec), flush=True)
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
