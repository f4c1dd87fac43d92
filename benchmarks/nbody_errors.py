"""Where the error of an N-body model lives: per-trajectory errors and reference predictors.

    python -m benchmarks nbody-errors --ckpt runs/nbody-r3s2-cpu/checkpoints/best.ckpt \\
        [--splits val test] [--rotations 0 8] [--sign-flips] [--threads 2] [--root DIR] \\
        [--source regconv|published]

The published metric is the MSE over particles and coordinates, averaged over trajectories;
this tool splits it per trajectory. One JSON line per (predictor, split, rotations) with:

* ``mse``: the published metric (mean of the per-trajectory MSEs, all trajectories have 5
  particles, so this is the MSE over everything), and ``mse_sem``, its standard error over
  trajectories (heavy tails make it several percent of ``mse`` on 2,000 trajectories);
* ``median``, ``p90``: of the per-trajectory MSEs;
* ``top1_share``, ``top5_share``: fraction of the summed error carried by the worst 1 % / 5 %
  of trajectories (close encounters, where the force clip acts, dominate the metric).

Predictors: the checkpoint's model (with its EMA weights, optionally averaged over ``K`` random
rotations: ``rotations``, and over the sign of the charges: ``--sign-flips``), and three
references that need no training: ``static`` (``x``), ``constant_velocity`` (``x + v T`` with
``T`` the time between the frames: 1.0 for frames 30 -> 40) and ``linear`` (``x + a v`` with the
scalar ``a`` fitted by least squares on the ``num_train`` training trajectories; the EGNN
paper's "Linear" baseline).

Data: ``--source`` picks our seeds' splits or the published data set's initial states (see
:mod:`regconv.data.nbody`); without it, a checkpoint is evaluated on the source its run trained
on (``data.init_args.source`` of the run's ``config.yaml``, two folders above the checkpoint;
``regconv`` if the run has none), and the references alone on ``regconv``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from regconv.bench import emit
from regconv.ops import scatter_sum

__all__ = [
    "fit_linear_coefficient",
    "run_source",
    "model_errors",
    "per_trajectory_mse",
    "reference_errors",
    "summarise",
]


def per_trajectory_mse(pred: Tensor, target: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    """Mean squared error of every graph over its nodes and coordinates.

    Shapes:
        pred, target ``[N, 3]``; batch ``[N]`` -> ``[B]``.
    """
    if pred.shape != target.shape or pred.dim() != 2:
        raise ValueError(
            "pred and target must be equal [N, 3] tensors, "
            f"got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    sq = (pred - target).square().sum(-1)  # [N]
    total = scatter_sum(sq, batch, num_graphs)  # [B]
    count = scatter_sum(torch.ones_like(sq), batch, num_graphs)  # [B]
    if bool((count == 0).any()):
        raise ValueError("every graph needs at least one node")
    return total / (3.0 * count)


@torch.no_grad()
def model_errors(task, loader, rotations: int = 0, sign_flips: bool = False) -> np.ndarray:
    """Per-trajectory MSE of a :class:`regconv.training.RegressionTask` (node-vector task) over
    a loader of PyG batches, with its evaluation weights; ``rotations`` and ``sign_flips`` as
    in ``task.forward``."""
    if rotations < 0:
        raise ValueError(f"rotations must be >= 0, got {rotations}")
    task.eval()
    out = []
    for batch in loader:
        pred = task(batch, rotations=rotations, sign_flips=sign_flips)  # [N, 3]
        out.append(per_trajectory_mse(pred, batch.y, batch.batch, batch.num_graphs))
    return torch.cat(out).double().numpy()


def fit_linear_coefficient(loc: np.ndarray, vel: np.ndarray, target: np.ndarray) -> float:
    """Least-squares ``a`` of ``target ~ loc + a vel`` (arrays ``[T, 5, 3]``)."""
    v = vel.reshape(-1)
    d = (target - loc).reshape(-1)
    vv = float(v @ v)
    if vv == 0.0:
        raise ValueError("all velocities are zero: the linear coefficient is undefined")
    return float(d @ v) / vv


def reference_errors(loc: np.ndarray, vel: np.ndarray, target: np.ndarray, a: float) -> np.ndarray:
    """Per-trajectory MSE of ``loc + a vel`` against ``target``.

    Shapes:
        loc, vel, target ``[T, 5, 3]`` -> ``[T]``.
    """
    return ((loc + a * vel - target) ** 2).mean(axis=(1, 2))


def summarise(errors: np.ndarray) -> dict[str, float | None]:
    """``mse``, its standard error over trajectories (``mse_sem``: the spread the metric would
    have on another draw of as many trajectories), ``median``, ``p90`` and the shares of the
    worst 1 % / 5 % of trajectories."""
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise ValueError("errors must be a non-empty 1-d array")
    if not np.isfinite(e).all() or (e < 0).any():
        raise ValueError("errors must be finite and non-negative")
    worst = np.sort(e)[::-1]
    total = float(worst.sum())

    def share(fraction: float) -> float:
        k = max(1, int(round(fraction * e.size)))
        return float(worst[:k].sum()) / total if total > 0 else 0.0

    return {
        "trajectories": int(e.size),
        "mse": float(e.mean()),
        "mse_sem": float(e.std(ddof=1) / np.sqrt(e.size)) if e.size > 1 else None,
        "median": float(np.median(e)),
        "p90": float(np.quantile(e, 0.9)),
        "top1_share": share(0.01),
        "top5_share": share(0.05),
    }


def _frames(
    split: str, root, frame_in: int, frame_out: int, n: int | None, source: str = "regconv"
):
    from regconv.data.nbody import load_split

    arr = load_split(split, root, verbose=False, source=source)
    sl = slice(None) if n is None else slice(0, n)
    return arr["loc"][sl, frame_in], arr["vel"][sl, frame_in], arr["loc"][sl, frame_out]


def run(
    ckpt: str | None,
    splits: Sequence[str],
    rotations: Sequence[int],
    num_train: int,
    frame_in: int,
    frame_out: int,
    root: str | None,
    batch_size: int,
    sign_flips: bool = False,
    source: str = "regconv",
) -> list[dict[str, Any]]:
    from regconv.data.nbody import frame_time

    records: list[dict[str, Any]] = []
    loc, vel, target = _frames("train", root, frame_in, frame_out, num_train, source)
    a = fit_linear_coefficient(loc, vel, target)
    refs = {"static": 0.0, "constant_velocity": frame_time(frame_in, frame_out), "linear": a}
    for split in splits:
        loc, vel, target = _frames(split, root, frame_in, frame_out, None, source)
        for name, coef in refs.items():
            records.append(
                {
                    "predictor": name,
                    "split": split,
                    "source": source,
                    "a": coef,
                    **summarise(reference_errors(loc, vel, target, coef)),
                }
            )
    if ckpt is not None:
        from regconv.training import NBodyDataModule, RegressionTask

        task = RegressionTask.load_from_checkpoint(ckpt, map_location="cpu")
        if task.spec.kind != "node_vector":
            raise ValueError(f"{ckpt} is not a node-vector (N-body) checkpoint")
        from torch_geometric.loader import DataLoader

        dm = NBodyDataModule(
            num_train=num_train, frame_in=frame_in, frame_out=frame_out, root=root, source=source
        )
        for split in splits:
            loader = DataLoader(dm.dataset(split), batch_size=batch_size, shuffle=False)
            for k in rotations:
                errs = model_errors(task, loader, k, sign_flips)
                records.append(
                    {
                        "predictor": "model",
                        "split": split,
                        "source": source,
                        "rotations": int(k),
                        "sign_flips": sign_flips,
                        "checkpoint": str(ckpt),
                        **summarise(errs),
                    }
                )
    return records


def run_source(ckpt: str | None) -> str:
    """The data source a checkpoint's run trained on: ``data.init_args.source`` of
    ``config.yaml`` two folders above it (``regconv`` when absent or without a checkpoint)."""
    if ckpt is None:
        return "regconv"
    from pathlib import Path

    import yaml

    from regconv.data.nbody import SOURCES

    cfg_path = Path(ckpt).resolve().parent.parent / "config.yaml"
    if not cfg_path.is_file():
        return "regconv"
    try:
        cfg = yaml.safe_load(cfg_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the run's config {cfg_path}: {exc}") from exc
    data = cfg.get("data") if isinstance(cfg, dict) else None
    args = data.get("init_args") if isinstance(data, dict) else None
    source = args.get("source", "regconv") if isinstance(args, dict) else "regconv"
    if source not in SOURCES:
        raise ValueError(f"{cfg_path}: unknown N-body source {source!r}")
    return source


def main(argv: Sequence[str] | None = None) -> int:
    from regconv.data.nbody import SOURCES

    p = argparse.ArgumentParser(
        prog="python -m benchmarks nbody-errors", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--ckpt", default=None, help="N-body checkpoint (omit for the references only)")
    p.add_argument("--splits", nargs="+", default=["val", "test"], choices=["train", "val", "test"])
    p.add_argument(
        "--rotations", nargs="+", type=int, default=[0], help="test-time rotation counts K"
    )
    p.add_argument(
        "--sign-flips",
        action="store_true",
        help="also average the model over the sign of the charges (q -> -q, an exact symmetry)",
    )
    p.add_argument(
        "--num-train", type=int, default=3000, help="training trajectories (fit of 'linear')"
    )
    p.add_argument("--frame-in", type=int, default=30)
    p.add_argument("--frame-out", type=int, default=40)
    p.add_argument("--root", default=None, help="directory of the splits (default: the cache)")
    p.add_argument(
        "--source",
        choices=SOURCES,
        default=None,
        help="splits from our seeds or the published data set's initial states (default: the "
        "checkpoint run's source, else regconv)",
    )
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    for rec in run(
        args.ckpt,
        args.splits,
        args.rotations,
        args.num_train,
        args.frame_in,
        args.frame_out,
        args.root,
        args.batch_size,
        args.sign_flips,
        args.source if args.source is not None else run_source(args.ckpt),
    ):
        emit({"bench": "nbody_errors", **rec})
    return 0
