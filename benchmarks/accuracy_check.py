"""Same-seed training of the exact and the tabulated-kernel r3s2 models: does speed cost accuracy?

    python -m benchmarks accuracy-check [--steps 300] [--subset 2000] [--batch-size 32]
        [--table-step 0.1] [--paths exact table] [--precisions fp32] [--val 500] [--threads 1]

Both runs start from the same initial parameters (the tabulated kernel uses the same parameters
as the exact one), see the same batches in the same order and use the same optimiser, so any
difference comes from the kernel evaluation alone. Model: the PONITA-class config
(:data:`regconv.bench.PONITA_CONFIG`: r3s2, hidden 128, 5 layers, 16 orientations, basis 256,
degree 3, full graph; ``--hidden`` overrides its width), with ``table=None`` (exact) or
``table={"step": --table-step}`` (r3s2's table at that step, its interpolation order).
Target: ``homo`` (meV), standardised with the training subset's mean and std; L1 loss; Adam.

Prints one JSON line per evaluation (every ``--eval-every`` steps: mean training loss since the
last one, validation MAE in meV, seconds per step) and a final summary line with, for each
trained model, its validation MAE evaluated with the exact kernel and with the table (the
cross-evaluation measures the approximation on trained weights).

``--precisions fp32 bf16`` trains every path once per precision from the same start: ``bf16``
runs the forward passes (training and validation) under ``torch.autocast`` to bfloat16, with
parameters, loss and optimiser in float32 (mixed precision; the name of such a run is the path
with ``-bf16`` appended); the summary's evaluations are in float32.

The paths ``exact-unfused`` and ``table-unfused`` run the plain layer-by-layer code (the same
arithmetic as ``exact`` / ``table`` up to round-off; on the development machine the tabulated
runs came out bitwise identical, a reproducibility check). Training trajectories are chaotic,
so the exact-vs-table difference after a few hundred steps is best judged against the spread
over ``--seed`` (initialisation and batch order).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from torch_geometric.data import Batch

from regconv import models
from regconv.bench import ponita_config
from regconv.bench.throughput import PRECISIONS, precision_autocast, unfuse

HOMO = 2


__all__ = ["main", "qm9_homo", "run", "shuffled_batches", "val_mae"]


def shuffled_batches(dataset, batch_size: int, steps: int, seed: int):
    """``steps`` batches of ``batch_size``: epochs of ``dataset`` reshuffled by ``seed``."""
    if not 1 <= batch_size <= len(dataset):
        raise ValueError(f"batch size {batch_size} must be in 1 .. {len(dataset)} (the data)")
    gen = torch.Generator().manual_seed(seed)
    done = 0
    while done < steps:
        perm = torch.randperm(len(dataset), generator=gen).tolist()
        for i in range(0, len(perm) - batch_size + 1, batch_size):
            if done == steps:
                return
            yield Batch.from_data_list([dataset[j] for j in perm[i : i + batch_size]])
            done += 1


def val_mae(model, val_batches, mean: float, std: float, precision: str = "fp32") -> float:
    """ε_HOMO MAE (meV) of a model predicting the standardised target ``[B, 1]``, its forward
    passes in ``precision``; the model's training mode is restored."""
    was_training = model.training
    model.eval()
    err, n = 0.0, 0
    with torch.no_grad(), precision_autocast(precision):
        for b in val_batches:
            pred = model(b)[:, 0].float() * std + mean
            err += float((pred - b.y[:, HOMO]).abs().sum())
            n += b.num_graphs
    model.train(was_training)
    return err / max(n, 1)


def qm9_homo(subset: int, val: int) -> tuple:
    """The first ``subset`` molecules of the ``dimenet`` train split, the first ``val`` of its
    validation split in batches of 64, and the training molecules' ε_HOMO mean and std (meV)."""
    from regconv.data import QM9

    train = QM9("train", scheme="dimenet", subset=subset)
    val_set = QM9("val", scheme="dimenet", subset=val)
    ys = torch.stack([train[i].y[0, HOMO] for i in range(len(train))])
    val_batches = [
        Batch.from_data_list([val_set[j] for j in range(i, min(i + 64, len(val_set)))])
        for i in range(0, len(val_set), 64)
    ]
    return train, val_batches, float(ys.mean()), float(ys.std())


def _table(step: float | None) -> dict | None:
    """The ``table`` option of a path: None (the exact kernel) or r3s2's table at ``step``."""
    return None if step is None else {"step": step}


def run(args) -> list[dict]:
    torch.set_num_threads(args.threads)
    train, val_batches, mean, std = qm9_homo(args.subset, args.val)
    config = ponita_config()
    if args.hidden:
        config["hidden"] = args.hidden
    torch.manual_seed(args.seed)
    init = models.create("r3s2", **config).state_dict()
    steps_of = {"exact": None, "table": args.table_step}
    steps_of.update({f"{k}-unfused": v for k, v in list(steps_of.items())})
    trained = {}
    records = []
    for path, precision in [(p, q) for p in args.paths for q in args.precisions]:
        name = path if precision == "fp32" else f"{path}-{precision}"
        model = models.create("r3s2", **config, table=_table(steps_of[path]))
        if path.endswith("-unfused"):  # same arithmetic, different round-off: the noise floor
            unfuse(model)
        model.load_state_dict(init)
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        losses, t_run, t0 = [], 0.0, time.perf_counter()
        for step, batch in enumerate(
            shuffled_batches(train, args.batch_size, args.steps, args.seed), start=1
        ):
            target = (batch.y[:, HOMO : HOMO + 1] - mean) / std
            t = time.perf_counter()
            opt.zero_grad()
            with precision_autocast(precision):
                out = model(batch)
            loss = (out.float() - target).abs().mean()
            loss.backward()
            opt.step()
            t_run += time.perf_counter() - t
            losses.append(float(loss.detach()))
            if step % args.eval_every == 0 or step == args.steps:
                rec = {
                    "path": name,
                    "table_step": steps_of[path],
                    "precision": precision,
                    "step": step,
                    "train_l1_std_units": sum(losses) / len(losses),
                    "val_mae_meV": val_mae(model, val_batches, mean, std, precision),
                    "seconds_per_step": t_run / step,
                    "wall_s": round(time.perf_counter() - t0, 1),
                }
                print(json.dumps(rec), flush=True)
                records.append(rec)
                losses = []
        trained[name] = (path, model.state_dict())
    summary = {
        "summary": True,
        "config": config,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "subset": args.subset,
        "val": args.val,
        "seed": args.seed,
        "table_step": args.table_step,
    }
    for name, (path, state) in trained.items():
        for evaluated in ("exact", "table"):
            if not args.cross_eval and evaluated != path.removesuffix("-unfused"):
                continue
            m = models.create("r3s2", **config, table=_table(steps_of[evaluated]))
            m.load_state_dict(state)
            summary[f"trained_{name}_evaluated_{evaluated}_val_mae_meV"] = val_mae(
                m, val_batches, mean, std
            )
    print(json.dumps(summary), flush=True)
    records.append(summary)
    return records


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks accuracy-check``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks accuracy-check", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--val", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--table-step", type=float, default=0.1, help="grid step of the table, in Å"
    )
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["exact", "table"],
        choices=["exact", "table", "exact-unfused", "table-unfused"],
        help="-unfused: the plain layer-by-layer code (same arithmetic up to round-off)",
    )
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32"],
        choices=PRECISIONS,
        help="bf16: forward passes under torch.autocast to bfloat16 (mixed precision)",
    )
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=0, help="override the hidden width (0: 128)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-cross-eval",
        dest="cross_eval",
        action="store_false",
        help="skip evaluating each trained model with the other kernel",
    )
    run(parser.parse_args(argv))
    return 0
