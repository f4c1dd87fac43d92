"""Test-time rotation averaging of trained energy + force budget models: ``python -m benchmarks
pes-rotations``.

::

    python -m benchmarks pes-rotations runs/pes-aspirin-m15-val-tries2 --rotations 0 4 16 \\
        [--models r3s2:space.num_orientations=4] [--split val|test|holdout] [--holdout 1000] \\
        [--threads 1]

Loads the checkpoints a :mod:`benchmarks.pes_budget` run kept (``ckpt/<spec>.ckpt``; MACE's are
not regconv checkpoints and are left out) and evaluates each on the run's frames of ``--split``
(default: the 50 validation frames, for choosing options; the split is rebuilt from the run's
settings; ``holdout``: the ``--holdout`` frames that follow the run's test frames, disjoint from
its training, validation and test frames, to choose options on more than 50 frames) with
energies and forces averaged over ``K`` random rotations
(:func:`regconv.training.energy_forces.energy_forces`; the same ``K`` rotations for every
batch, from the checkpoint's seed), for every ``K`` of ``--rotations``: force MAE, energy MAE
per atom, and milliseconds per frame (after one untimed batch). No training; one JSON line per
(model, K) on stdout.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Subset

from benchmarks.budget_core import file_name

__all__ = ["evaluate", "main"]


def _data(settings: dict[str, Any], split: str, holdout: int = 1000):
    """The loader of ``split`` of a run's data (``holdout``: the ``holdout`` frames after its
    ``test_size`` test frames); ``ValueError`` when the set has too few frames for it."""
    from torch_geometric.loader import DataLoader

    from benchmarks.pes_budget.task import data_module

    keys = ("path", "molecule", "split_seed", "frames", "test_size")
    args = argparse.Namespace(batch_size=settings["batch_size"], **{k: settings[k] for k in keys})
    if split != "holdout":
        dm = data_module(args)
        return dm.val_dataloader() if split == "val" else dm.test_dataloader()
    tested = settings["test_size"]
    dm = data_module(argparse.Namespace(**{**vars(args), "test_size": None}))
    rest = dm.dataset("test")
    if tested is None or len(rest) < tested + holdout:
        raise ValueError(
            f"the run's set leaves {len(rest)} frames after training and validation, of which "
            f"its test takes {tested if tested is not None else 'all'}: no {holdout} holdout "
            "frames after them (lower --holdout)"
        )
    return DataLoader(Subset(rest, range(tested, tested + holdout)), batch_size=dm.eval_batch_size)


def evaluate(predictor, loader, rotations: int) -> dict[str, float]:
    """Force MAE (data units), energy MAE per atom and ms per frame of ``predictor``
    (:class:`regconv.training.inference.Predictor`) on ``loader`` with ``rotations``."""
    err_f = err_e = 0.0
    n_f = n_e = n_atoms = 0
    t = time.perf_counter()
    for batch in loader:
        e, f = predictor.energy_forces(batch, rotations=rotations)
        err_f += float((f - batch.forces.to(f.dtype)).abs().sum())
        n_f += f.numel()
        counts = torch.bincount(batch.batch, minlength=batch.num_graphs)
        err_e += float(((e - batch.energy.reshape(-1).to(e.dtype)).abs() / counts).sum())
        n_e += e.numel()
        n_atoms += int(counts.sum())
    wall = time.perf_counter() - t
    return {"mae_forces": err_f / n_f, "mae_energy_per_atom": err_e / n_e,
            "frames": n_e, "ms_per_frame": 1000.0 * wall / n_e}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Evaluate; exit code 2 on bad arguments."""
    from regconv.training.predict import PredictError, load_task

    p = argparse.ArgumentParser(prog="python -m benchmarks pes-rotations", description=__doc__)
    p.add_argument("run", type=Path, help="a pes-budget run directory")
    p.add_argument("--rotations", type=int, nargs="+", default=[0, 4, 16])
    p.add_argument("--models", nargs="+", default=None, help="only these model specs")
    p.add_argument("--split", choices=("val", "test", "holdout"), default="val")
    p.add_argument("--holdout", type=int, default=1000,
                   help="frames after the test frames evaluated by --split holdout")  # fmt: skip
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    path = args.run / "results.json"
    if not path.is_file():
        p.error(f"{path}: no results.json (not a pes-budget run directory)")
    if any(k < 0 for k in args.rotations):
        p.error("--rotations must be >= 0")
    if args.holdout < 1:
        p.error("--holdout must be >= 1")
    doc = json.loads(path.read_text())
    torch.set_num_threads(args.threads)
    try:
        loader = _data(doc["settings"], args.split, args.holdout)
    except ValueError as e:
        p.error(f"{args.run}: {e}")
    for rec in doc["models"]:
        if rec.get("kind") != "regconv" or (args.models and rec["model"] not in args.models):
            continue
        ckpt = args.run / "ckpt" / f"{file_name(rec['model'])}.ckpt"
        try:
            predictor = load_task(ckpt)
        except PredictError as e:
            p.error(str(e))
        predictor.energy_forces(next(iter(loader)))  # warm-up, not timed
        for k in args.rotations:
            res = evaluate(predictor, loader, k)
            row = {"model": rec["model"], "rotations": k, "split": args.split,
                   **{key: round(v, 4) for key, v in res.items()}}  # fmt: skip
            print(json.dumps(row), flush=True)
    return 0
