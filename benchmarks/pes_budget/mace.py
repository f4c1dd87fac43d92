"""MACE in the energy + force budget benchmark, through its own command-line tools.

``mace-torch`` (the ``bench`` extra) trains on the benchmark's frames written as extended XYZ
(eV, eV/Å, keys ``REF_energy`` / ``REF_forces``) with ``mace_run_train`` and is evaluated with
``mace_eval_configs`` on the same test frames as the regconv models; the errors are computed here
from its predictions, in the same units and the same way.

MACE has no time budget, and it stops only at whole epochs (2 to 7 minutes each here on one
thread), so it trains under a cap (:mod:`benchmarks.pes_budget.mace_capped`): MACE's own
``mace_run_train``, its data loader cut off when the seconds inside its epochs reach the
budget; the epoch cut short is validated and checkpointed as MACE does after any epoch, and the
loop ends there. The spec key ``epochs`` (``mace:epochs=5``) bounds the epochs as well.
``steps`` are the optimiser steps MACE took (counted by the cap), ``epochs`` those steps in
epochs. Wall times: ``train_epochs_s`` (from the cap) is the time inside its epochs, the time
the table shows, like a regconv model's ``train_s`` (which leaves out its learning-curve
evaluations); ``train_loop_s`` its training loop from its log, with the validations MACE runs
before the first epoch and after each (50 frames, a few seconds each); ``train_s`` the whole
``mace_run_train`` (set-up and its final evaluation of the training set included). MACE's own
learning-rate schedule and EMA are used as they are. Its learning curve is read from its log
(:func:`mace_curve`): it validates on the validation frames after every epoch.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.budget_core import file_name, run_facts
from benchmarks.pes_budget.specs import spec_options

__all__ = [
    "capped_argv",
    "mace_curve",
    "mace_stress_weight",
    "mace_tool",
    "mace_train_argv",
    "train_mace",
    "write_extxyz",
]

ENERGY_KEY, FORCES_KEY, STRESS_KEY = "REF_energy", "REF_forces", "REF_stress"
LAUNCHER = Path(__file__).with_name("mace_capped.py")
"""The script that runs ``mace_run_train`` under the cap (``mace_capped``)."""
MAX_EPOCHS = 100_000
"""MACE's ``--max_num_epochs`` where the spec gives no ``epochs``: the cap ends the run."""


def write_extxyz(dataset, path: Path) -> int:
    """Frames of a :class:`regconv.data.md17.MD17` dataset (meV, meV/Å, meV/Å³) as extended XYZ
    in eV, eV/Å and eV/Å³ (with the cell and pbc of periodic frames, and their stress); returns
    the number of frames."""
    import ase.io

    import ase

    frames = []
    for d in dataset:
        atoms = ase.Atoms(numbers=d.z.numpy(), positions=d.pos.double().numpy())
        cell = getattr(d, "cell", None)
        if cell is not None:
            atoms.cell = cell.double().numpy().reshape(3, 3)
            atoms.pbc = d.pbc.numpy().reshape(3)
        atoms.info[ENERGY_KEY] = float(d.energy.double().reshape(-1)[0]) / 1000.0
        atoms.arrays[FORCES_KEY] = d.forces.double().numpy() / 1000.0
        stress = getattr(d, "stress", None)
        if stress is not None:
            atoms.info[STRESS_KEY] = stress.double().numpy().reshape(3, 3) / 1000.0
        frames.append(atoms)
    tmp = path.with_name(path.name + ".tmp")
    ase.io.write(tmp, frames, format="extxyz")
    tmp.replace(path)
    return len(frames)


def mace_tool(name: str) -> str | None:
    """The path of MACE's command-line tool ``name``: beside this Python (the console scripts
    of its environment, active or not), else on ``PATH``; None where neither has it."""
    here = Path(sys.executable).with_name(name)
    return str(here) if here.is_file() else shutil.which(name)


def mace_stress_weight(dataset, stress_weight: float) -> float:
    """MACE's ``--stress_weight`` that weighs the stress as regconv's loss does.

    regconv's stress term is ``stress_weight`` times the squared error of the virial per atom,
    ``σ V / n``, on the scale of its force term (weight ``--force-weight``, which MACE gets as
    its ``--forces_weight``); MACE's is its weight times the squared error of ``σ`` itself.
    The same weighting is ``stress_weight · (V / n)²``, with ``(V / n)²`` averaged over the
    training frames (copper: 11.8 Å³ per atom, about 138 Å⁶)."""
    v2 = [
        (abs(np.linalg.det(d.cell.double().numpy().reshape(3, 3))) / d.num_nodes) ** 2
        for d in dataset
        if getattr(d, "cell", None) is not None
    ]
    if not v2:
        raise ValueError("the stress needs periodic frames with a cell")
    return float(stress_weight) * float(np.mean(v2))


def mace_train_argv(
    options: dict[str, Any],
    args: argparse.Namespace,
    work: Path,
    data: Path,
    epochs: int,
    stress_weight: float | None = None,
) -> list[str]:
    """The ``mace_run_train`` command line of one run (``stress_weight``: MACE's, with
    ``args.stress``; :func:`mace_stress_weight`)."""
    stress = bool(getattr(args, "stress", False))
    if stress and stress_weight is None:
        raise ValueError("a stress run needs MACE's stress weight")
    exe = mace_tool("mace_run_train")
    if exe is None:
        raise ImportError("mace_run_train not found: pip install -e '.[bench]' (mace-torch)")
    return [
        exe,
        "--name", "mace",
        "--seed", str(args.seed),
        "--work_dir", str(work),
        "--train_file", str(data / "train.xyz"),
        "--valid_file", str(data / "val.xyz"),
        "--energy_key", ENERGY_KEY,
        "--forces_key", FORCES_KEY,
        "--E0s", "average",
        "--model", "MACE",
        "--hidden_irreps", str(options["hidden_irreps"]),
        "--r_max", str(float(options["r_max"])),
        "--batch_size", str(args.batch_size),
        "--valid_batch_size", "50",
        "--max_num_epochs", str(epochs),
        "--ema",
        "--ema_decay", "0.99",
        "--amsgrad",
        "--device", "cpu",
        "--default_dtype", "float32",
        "--error_table", "PerAtomMAE",  # its per-epoch validation lines in MAE (the curve)
        *(["--loss", "stress", "--compute_stress", "True", "--stress_key", STRESS_KEY,
           "--forces_weight", f"{float(args.force_weight):g}",
           "--stress_weight", f"{float(stress_weight):.6g}"] if stress else []),
    ]  # fmt: skip


_EPOCH_LINE = re.compile(
    r"INFO: Epoch (\d+): .*MAE_E_per_atom=\s*([-+0-9.eE]+) meV, MAE_F=\s*([-+0-9.eE]+) meV / A"
)


def _stamp(line: str):
    import datetime as dt

    return dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")


def mace_curve(
    log: Path, steps_per_epoch: int, total_steps: int | None = None
) -> list[dict[str, float]]:
    """MACE's learning curve from its training log: the validation energy (per atom) and force
    MAE it logs after every epoch (``--error_table PerAtomMAE``, EMA weights), against epochs,
    steps and seconds from its "Started training" line (its own validation time included, as in
    its wall time). ``total_steps`` (the steps of a capped run) bounds the steps and epochs of the
    last row, where the cap cut an epoch short. Empty when the log has no such lines (older runs
    logged RMSE)."""
    start, rows = None, []
    for line in log.read_text(errors="replace").splitlines():
        if start is None and "INFO: Started training" in line:
            start = _stamp(line)
        m = _EPOCH_LINE.search(line)
        if m and start is not None:
            steps = (int(m.group(1)) + 1) * steps_per_epoch  # "Epoch 0" ends the first epoch
            if total_steps is not None:
                steps = min(steps, total_steps)
            rows.append({
                "epoch": round(steps / steps_per_epoch, 3),
                "steps": steps,
                "seconds": round((_stamp(line) - start).total_seconds(), 2),
                "mae_energy_per_atom": float(m.group(2)),
                "mae_forces": float(m.group(3)),
            })  # fmt: skip
    return rows


def capped_argv(mace_argv: list[str], budget_s: float, steps_file: Path) -> list[str]:
    """The command that runs ``mace_argv`` (``mace_run_train`` and its arguments) under a cap of
    ``budget_s`` seconds on its training loop, writing the steps it took to ``steps_file``."""
    return [
        sys.executable, str(LAUNCHER),
        "--budget-s", f"{float(budget_s):g}",
        "--steps-file", str(steps_file),
        "--", *mace_argv[1:],
    ]  # fmt: skip


def _run(argv: list[str], log: Path, threads: int, timeout_s: float | None = None) -> float:
    """Run a MACE tool with ``threads`` OpenMP threads (``--threads``: a model in this process
    would otherwise leave MACE torch's default, every core); its wall time. ``timeout_s``: a
    backstop (a cap that failed to engage would leave MACE running its epochs)."""
    from benchmarks.processes import child_env

    env = child_env(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    t = time.perf_counter()
    with open(log, "w") as fh:
        try:
            proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, check=False,
                                  env=env, timeout=timeout_s)  # fmt: skip
        except subprocess.TimeoutExpired as e:
            raise RuntimeError(f"{argv[1]} ran past {timeout_s:g} s; see {log}") from e
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed (exit {proc.returncode}); see {log}")
    return time.perf_counter() - t


def _errors(pred: Path, truth: Path, stress: bool = False) -> dict[str, float]:
    import ase.io

    p, t = ase.io.read(pred, ":"), ase.io.read(truth, ":")
    if len(p) != len(t):
        raise RuntimeError(f"{pred}: {len(p)} frames, {truth}: {len(t)}")
    de = np.array([a.info["MACE_energy"] - b.info[ENERGY_KEY] for a, b in zip(p, t, strict=True)])
    df = np.concatenate(
        [a.arrays["MACE_forces"] - b.arrays[FORCES_KEY] for a, b in zip(p, t, strict=True)]
    )
    n_atoms = np.array([len(b) for b in t], dtype=np.float64)
    out = {
        "test_mae_energy": 1000.0 * float(np.abs(de).mean()),
        "test_mae_energy_per_atom": 1000.0 * float((np.abs(de) / n_atoms).mean()),
        "test_mae_forces": 1000.0 * float(np.abs(df).mean()),
        "test_rmse_forces": 1000.0 * float(np.sqrt(np.square(df).mean())),
        "test_count": len(t),
    }
    if stress:  # MACE writes its stress as 3 x 3 (eV/Å^3); the errors over the 9 components
        ds = np.stack([
            np.asarray(a.info["MACE_stress"]).reshape(3, 3)
            - np.asarray(b.info[STRESS_KEY]).reshape(3, 3)
            for a, b in zip(p, t, strict=True)
        ])  # fmt: skip
        out["test_mae_stress"] = 1000.0 * float(np.abs(ds).mean())
        out["stress_unit"] = "meV/Å^3"
    return out


def train_mace(spec: str, args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Train and test MACE under the budget (a cap on its training loop, see the module
    docstring)."""
    import torch

    from benchmarks.pes_budget.task import data_module
    from regconv.bench import cpu_sampler

    name, spec_opts = spec_options(spec)
    options = dict(spec_opts)
    budget_s = 60.0 * float(args.minutes)
    threads = int(args.threads or torch.get_num_threads())
    root = Path(args.out) / "mace" / file_name(spec)
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    dm = data_module(args)
    sizes = {s: write_extxyz(dm.dataset(s), data / f"{s}.xyz") for s in ("train", "val", "test")}

    max_epochs = options.pop("epochs", None) or MAX_EPOCHS
    work = root / "train"
    shutil.rmtree(work, ignore_errors=True)
    steps_file = root / "steps.json"
    steps_file.unlink(missing_ok=True)
    stress = bool(getattr(args, "stress", False))
    w_stress = mace_stress_weight(dm.dataset("train"), args.stress_weight) if stress else None
    mace_argv = mace_train_argv(options, args, work, data, max_epochs, w_stress)
    argv = capped_argv(mace_argv, budget_s, steps_file)
    with cpu_sampler() as load:
        # the cap ends the loop; set-up and MACE's final evaluation take minutes at most
        train_s = _run(argv, root / "train.log", threads, timeout_s=1.5 * budget_s + 1800.0)
    capped = json.loads(steps_file.read_text())
    model = work / "mace.model"
    if not model.is_file():
        found = sorted(work.rglob("*.model"))
        if not found:
            raise RuntimeError(f"mace_run_train wrote no .model file under {work}")
        model = found[0]
    split = args.eval_split  # "val": MACE's validation frames (it also validates on them)
    eval_argv = [
        mace_tool("mace_eval_configs") or "mace_eval_configs",
        "--configs", str(data / f"{split}.xyz"),
        "--model", str(model),
        "--output", str(root / "test_pred.xyz"),
        "--batch_size", "50",
        "--device", "cpu",
        "--default_dtype", "float32",
        *(["--compute_stress"] if getattr(args, "stress", False) else []),
    ]  # fmt: skip
    test_s = _run(eval_argv, root / "eval.log", threads)
    net = torch.load(model, map_location="cpu", weights_only=False)
    params = sum(p.numel() for p in net.parameters())
    per_epoch = sizes["train"] // args.batch_size
    steps = int(capped["steps"])
    curve = mace_curve(root / "train.log", per_epoch, steps)
    return {
        "model": spec,
        "name": name,
        "kind": "mace",
        "options": spec_opts,  # as the spec gives them (with its epochs), for resuming
        "params": int(params),
        **_errors(root / "test_pred.xyz", data / f"{split}.xyz", getattr(args, "stress", False)),
        "eval_split": split,
        "energy_unit": "meV",
        "forces_unit": "meV/Å",
        "steps": steps,
        "epochs": round(steps / per_epoch, 3),
        "max_epochs": max_epochs,
        "short_epochs": int(capped["short_epochs"]),  # cut short by the cap (0 or 1)
        # seconds inside its epochs: its training time without its validations, like a
        # regconv model's train_s (which leaves its learning-curve evaluations out)
        "train_epochs_s": capped.get("epoch_s"),
        "budget_s": budget_s,
        **({"mace_stress_weight": w_stress} if stress else {}),
        "train_s": round(train_s, 2),
        # its training loop (log: "Started training" to the last epoch's validation): set-up
        # and final error table left out like a regconv model's, but MACE's own validation
        # after every epoch (and once before the first) counted in, which regconv's is not
        "train_loop_s": curve[-1]["seconds"] if curve else None,
        "test_s": round(test_s, 2),
        "curve": curve,
        "curve_split": "val",
        "checkpoint": str(model),
        "mace_threads": threads,
        "mace_command": shlex.join(mace_argv),
        "capped_command": shlex.join(argv),
        "mace_eval_command": shlex.join(eval_argv),
        **run_facts(load, command),
    }
