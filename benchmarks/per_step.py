"""Per-step A/B tries of model options on QM9 validation molecules (never the test split).

::

    python -m benchmarks per-step \\
        --base "r3s2:hidden=64,layers=4,space.num_orientations=8,basis.dim=64" \\
        --tries "" "block.layer_scale=None" "basis.length_scale=1.0" \\
        --checkpoints 250 500 1000 1500 [--subset 5000] [--val 1000] [--batch-size 32] \\
        [--lr 5e-4] [--seed 0] [--out DIR]

Every try is the base model with its overrides (``""``: the base itself; a component's options
merge into the base's, :func:`regconv.bench.options.combine`), trained from the same
seed on the same batches in the same order (the first ``--subset`` molecules of the ``dimenet``
train split, reshuffled each epoch by ``--seed``), with Adam at a constant ``--lr``, no EMA, L1
loss on standardised ε_HOMO; the validation MAE (meV, the first ``--val`` molecules of the
``dimenet`` validation split) is taken at each of ``--checkpoints`` steps. One JSON line per
evaluation on standard output and in ``<out>/results.jsonl``; a rerun skips the tries already
complete there (same base, data and schedule; anything else is refused), so an interrupted
series resumes with the try it was in.

The per-step comparison is what this measures: seconds per step are recorded beside it, but a
shared machine makes them noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

__all__ = ["main", "run_try"]


def _settings(args) -> dict:
    return {k: getattr(args, k) for k in ("base", "subset", "val", "batch_size", "lr", "seed",
            "checkpoints")}  # fmt: skip


def _done(out: Path, settings: dict) -> set[str]:
    path = out / "results.jsonl"
    if not path.exists():
        return set()
    done = set()
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            raise ValueError(f"{path}, line {n}: not a JSON record") from None
        if rec.get("settings") != settings:
            raise ValueError(f"{path}, line {n}: a record of other settings; use another --out")
        if rec.get("step") == settings["checkpoints"][-1]:
            done.add(rec["try"])
    return done


def run_try(overrides: str, args, train, val_batches, mean: float, std: float) -> list[dict]:
    """Train the base model with ``overrides`` and evaluate it at the checkpoints."""
    from benchmarks.accuracy_check import HOMO, shuffled_batches, val_mae
    from regconv.bench.options import combine
    from regconv.bench.specs import parse_spec
    from regconv.models import create

    name, options = parse_spec(args.base)
    options = combine(options, parse_spec(f"{name}:{overrides}")[1])
    torch.manual_seed(args.seed)
    model = create(name, **options)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    records, losses, t_steps, t0 = [], [], 0.0, time.perf_counter()
    steps = args.checkpoints[-1]
    for step, batch in enumerate(shuffled_batches(train, args.batch_size, steps, args.seed), 1):
        target = (batch.y[:, HOMO : HOMO + 1] - mean) / std
        t = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = (model(batch) - target).abs().mean()
        loss.backward()
        opt.step()
        t_steps += time.perf_counter() - t
        if not torch.isfinite(loss):
            raise ValueError(f"try {overrides!r}: the loss is {float(loss)} at step {step}")
        losses.append(float(loss.detach()))
        if step in args.checkpoints:
            records.append({
                "try": overrides,
                "options": options,
                "step": step,
                "val_mae_meV": val_mae(model, val_batches, mean, std),
                "train_l1_std_units": sum(losses) / len(losses),
                "parameters": sum(p.numel() for p in model.parameters()),
                "seconds_per_step": t_steps / step,
                "wall_s": round(time.perf_counter() - t0, 1),
                "settings": _settings(args),
            })  # fmt: skip
            losses = []
    return records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks per-step", description=__doc__)
    p.add_argument("--base", required=True, help="model spec NAME[:key=value,...]")
    p.add_argument("--tries", nargs="+", required=True, help='overrides "k=v,k2=v2" ("": base)')
    p.add_argument("--checkpoints", type=int, nargs="+", default=[250, 500, 1000, 1500])
    p.add_argument("--subset", type=int, default=5000)
    p.add_argument("--val", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=Path("runs/per-step"))
    args = p.parse_args(argv)
    if sorted(set(args.checkpoints)) != args.checkpoints or args.checkpoints[0] < 1:
        print("per_step: --checkpoints must be increasing positive steps", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    from benchmarks.accuracy_check import qm9_homo
    from regconv.bench import machine_info

    try:
        args.out.mkdir(parents=True, exist_ok=True)
        done = _done(args.out, _settings(args))
        train, val_batches, mean, std = qm9_homo(args.subset, args.val)
        for overrides in args.tries:
            if overrides in done:
                print(f"per_step: try {overrides!r} is complete in {args.out}", file=sys.stderr)
                continue
            records = run_try(overrides, args, train, val_batches, mean, std)
            lines = [json.dumps({**rec, "machine": machine_info()}, default=str) for rec in records]
            print("\n".join(lines), flush=True)
            with open(args.out / "results.jsonl", "a") as fh:  # a whole try in one write
                fh.write("".join(line + "\n" for line in lines))
    except ValueError as e:
        print(f"per_step: {e}", file=sys.stderr)
        return 1
    return 0
