"""The energy + force task of the budget benchmark: its settings and data, and the training of
one regconv model spec (its record).

The model trains as in :mod:`benchmarks.budget` (:class:`~benchmarks.budget_core.BudgetTask`
under ``Trainer(max_time=...)``, the schedule in time, no validation during training), with the
energy + force loss; the trained model is saved as a :class:`regconv.training.RegressionTask`
checkpoint (``ckpt/<spec>.ckpt``) that ``regconv md``, ``regconv relax`` and
:class:`regconv.ase.RegconvCalculator` load. Its record carries a learning curve (``curve``:
validation energy and force MAE at every epoch's end, with the steps and training seconds then),
from copies of the EMA weights taken during training and evaluated after the budget
(:mod:`benchmarks.budget_core.curve`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.budget_core import (
    BudgetTask,
    EpochSnapshots,
    Meter,
    budget_trainer,
    file_name,
    learning_curve,
    quiet_lightning,
    run_facts,
)
from benchmarks.pes_budget.specs import DEFAULT_LR, spec_lr, spec_options

__all__ = ["data_module", "identity_of", "save_task_checkpoint", "settings_of", "train_one"]


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """What must agree between records for them to be compared (and resumed)."""
    return {
        "dataset": "md17",
        "molecule": args.molecule,
        "path": args.path,
        "frames": args.frames,
        "scheme": "random",
        "split_seed": int(args.split_seed),
        "test_size": int(args.test_size),
        "minutes": float(args.minutes),
        "seed": int(args.seed),
        "batch_size": int(args.batch_size),
        # --lr (every model's); DEFAULT_LR where not given, so that older records still resume
        "lr": float(args.lr if args.lr is not None else DEFAULT_LR),
        "energy_weight": float(args.energy_weight),
        "force_weight": float(args.force_weight),
        "ema_decay": float(args.ema_decay),
        # only when it is not the default, so that older test-split records still resume
        **({"eval_split": args.eval_split} if args.eval_split != "test" else {}),
        **({"rotation_augment": False} if getattr(args, "no_rotation_augment", False) else {}),
        **({"crystal": args.crystal} if getattr(args, "crystal", None) else {}),
        **({"stress": True, "stress_weight": float(args.stress_weight)}
           if getattr(args, "stress", False) else {}),  # fmt: skip
    }


def identity_of(spec: str, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of a finished record that must agree to resume it: options and rate."""
    return {"options": spec_options(spec)[1], "lr": spec_lr(spec, args.lr)}


def data_module(args: argparse.Namespace, seed: int | None = None):
    """The benchmark's :class:`regconv.training.MD17DataModule`: 950 / 50 / the rest, seeded
    (``--crystal copper``: the generated copper set, :func:`regconv.data.crystals.ensure_copper`;
    ``--stress``: with the stress target)."""
    from regconv.training import MD17DataModule

    return MD17DataModule(
        path=args.path,
        molecule=args.molecule,
        crystal=getattr(args, "crystal", None),
        stress=bool(getattr(args, "stress", False)),
        scheme="random",
        split_seed=args.split_seed,
        frames=args.frames,
        test_subset=args.test_size,
        batch_size=args.batch_size,
        eval_batch_size=50,
        seed=seed,
    )


def save_task_checkpoint(trainer, task, path: Path) -> None:
    """Save ``task`` (a ``BudgetTask``) so that ``RegressionTask.load_from_checkpoint`` reads it:
    the hyperparameters of the time schedule are left out; written atomically."""
    from regconv.utils.io import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".full")
    trainer.save_checkpoint(tmp)
    ckpt = torch.load(tmp, map_location="cpu", weights_only=False)
    tmp.unlink()
    hp = ckpt["hyper_parameters"]
    for key in BudgetTask.SCHEDULE_KEYS:
        hp.pop(key, None)
    for key in ("loops", "callbacks", "optimizer_states", "lr_schedulers"):
        ckpt.pop(key, None)
    with atomic_write(path, "wb") as fh:
        torch.save(ckpt, fh)


def train_one(spec: str, args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train and test one regconv model spec under the budget; return its record."""
    import lightning.pytorch as L

    from regconv.bench import cpu_sampler

    quiet_lightning()
    name, options = spec_options(spec)
    budget_s = 60.0 * float(args.minutes)
    dm = data_module(args, seed=args.seed)
    max_z = int(dm.dataset("train").frames.z.max())
    model_options = dict(options)
    if max_z > int(model_options.get("max_z", 9)):  # the elements of the data (copper: 29)
        model_options["max_z"] = max_z
    stress = bool(getattr(args, "stress", False))
    L.seed_everything(args.seed, verbose=False)
    task = BudgetTask(
        model=name,
        model_options=model_options,
        task=dm.task_spec,
        lr=spec_lr(spec, args.lr),
        ema_decay=args.ema_decay if args.ema_decay > 0 else None,
        seed=args.seed,
        budget_s=budget_s,
        warmup_fraction=args.warmup_fraction,
        min_lr_ratio=args.min_lr_ratio,
        loss="mse",
        rotation_augment=not getattr(args, "no_rotation_augment", False),
        energy_weight=args.energy_weight,
        force_weight=args.force_weight,
        **({"stress_weight": float(args.stress_weight)} if stress else {}),
    )
    params = sum(p.numel() for p in task.net.parameters())
    meter = Meter()
    snapshots = EpochSnapshots(meter)
    trainer = budget_trainer(budget_s, meter, extra=(snapshots,))
    with cpu_sampler() as load:
        trainer.fit(task, datamodule=dm)
    if trainer.interrupted or meter.t1 is None:
        raise RuntimeError(f"training of {spec} was interrupted")
    train_s = meter.t1 - meter.t0
    ckpt = Path(args.out) / "ckpt" / f"{file_name(spec)}.ckpt"
    save_task_checkpoint(trainer, task, ckpt)
    t = time.perf_counter()
    if args.eval_split == "val":  # choosing options: the validation frames, never the test
        trainer.test(task, dataloaders=dm.val_dataloader(), verbose=False)
    else:
        trainer.test(task, datamodule=dm, verbose=False)
    test_s = time.perf_counter() - t
    res = task.last_results["test"]
    energy, forces = res["targets"]["energy"], res["targets"]["forces"]
    evaluated = dm.dataset("val" if args.eval_split == "val" else "test")
    atoms = torch.tensor([float(evaluated[i].z.numel()) for i in range(len(evaluated))])
    per_atom = float(((res["pred"] - res["true"]).abs()[:, 0].double() / atoms).mean())
    steps = int(task.global_step)
    per_epoch = len(dm.dataset("train")) // args.batch_size
    n_atoms = int(dm.dataset("train")[0].z.numel())
    t = time.perf_counter()  # the learning curve on the validation frames, after the budget
    curve = learning_curve(trainer, task, snapshots.snapshots, dm.val_dataloader(), n_atoms)
    curve_s = time.perf_counter() - t
    return {
        "model": spec,
        "name": name,
        "kind": "regconv",
        "options": options,
        "params": int(params),
        "lr": spec_lr(spec, args.lr),
        "test_mae_energy": float(energy["mae"]),
        "test_mae_energy_per_atom": per_atom,  # mean over frames of |error| / atoms
        "test_mae_forces": float(forces["mae"]),
        "test_rmse_forces": float(forces["rmse"]),
        **({"test_mae_stress": float(res["targets"]["stress"]["mae"]), "stress_unit": "meV/Å^3"}
           if stress else {}),  # fmt: skip
        **({"max_z": max_z} if model_options != options else {}),
        "energy_unit": "meV",
        "forces_unit": "meV/Å",
        "test_count": int(res["count"]),
        "eval_split": args.eval_split,
        "steps": steps,
        "epochs": round(steps / per_epoch, 3) if per_epoch else None,
        "train_s": round(train_s, 2),
        "test_s": round(test_s, 2),
        "curve": curve,
        "curve_split": "val",
        "curve_s": round(curve_s, 2),
        "checkpoint": str(ckpt),
        **run_facts(load, command),
    }
