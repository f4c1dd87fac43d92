"""Losses and error sums of a batch, and the summary of an epoch, of
:class:`regconv.training.RegressionTask`: :func:`training_losses` and :func:`evaluate_batch` for
every kind of task (the energy + force kind's pieces are in :mod:`regconv.training.energy_forces`).

Losses are on standardised targets (:func:`regconv.training.standardise.normalised_target`),
per item: ``l(out - target)`` averaged over the targets (graph) or the three components (node
vectors), ``l`` the task's ``l1`` or ``mse``. Errors are in data units, weighted by the item
weights of the evaluation loaders (0 for the padding items of the last batch).

``standardisation`` below is the task's ``(shift [T], scale [T], per_atom_mask [T])``,
``weights`` its ``(energy_weight, force_weight)``, and ``stress_weight`` third where the task
has a stress target (then the stress is evaluated, and trained on when its weight is positive).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from regconv.training.energy_forces import (
    energy_force_losses,
    standardised_energy_forces_stress,
    update_energy_force_errors,
)
from regconv.training.inference import model_output
from regconv.training.metrics import ErrorSums, PairCollector
from regconv.training.spec import TaskSpec
from regconv.training.standardise import normalised_target, to_prediction

__all__ = [
    "PAIR_KEYS",
    "epoch_summary",
    "evaluate_batch",
    "item_losses",
    "item_weights",
    "training_losses",
    "update_errors",
]

Standardisation = tuple[Tensor, Tensor, Tensor]

#: the keys of an epoch summary that hold parity pairs (tensors, not for ``results.json``)
PAIR_KEYS = ("pred", "true", "force_pred", "force_true", "stress_pred", "stress_true")


def training_losses(
    net, batch, kind: str, standardisation: Standardisation, loss: str, weights: tuple[float, ...]
) -> Tensor:
    """Per-item training losses of ``net`` on ``batch``: ``[B]`` (graph, energy + forces; the
    forces, and the stress where weighted, with ``create_graph``, so that their loss trains the
    model) or ``[N]`` (node vectors)."""
    if kind == "energy_forces":
        w_stress = weights[2] if len(weights) > 2 else 0.0
        u, f, sigma = standardised_energy_forces_stress(
            net, batch, create_graph=True, stress=w_stress > 0
        )
        m, s = standardisation[0][0], standardisation[1][0]
        return energy_force_losses(u, f, batch, m, s, loss, weights[0], weights[1], sigma,
                                   w_stress)  # fmt: skip
    return item_losses(net(batch), normalised_target(batch, kind, *standardisation), kind, loss)


def evaluate_batch(
    net,
    batch,
    kind: str,
    standardisation: Standardisation,
    loss: str,
    weights: tuple[float, ...],
    errors: ErrorSums,
    pairs: PairCollector | None = None,
    *,
    force_pairs: PairCollector | None = None,
    stress_pairs: PairCollector | None = None,
    rotations: int = 0,
    seed: int = 0,
) -> None:
    """Add the losses and errors of ``net`` on ``batch`` to ``errors`` (and the predictions to
    ``pairs``; for energy + force tasks the energies there, the forces to ``force_pairs`` and
    the stress components to ``stress_pairs``),
    averaged over ``rotations`` random rotations seeded by ``seed``."""
    w = item_weights(batch, kind)
    if kind == "energy_forces":
        stress = len(weights) > 2  # the task has a stress target
        u, f, sigma = standardised_energy_forces_stress(
            net, batch, create_graph=False, rotations=rotations, seed=seed, stress=stress
        )
        m, s = standardisation[0][0], standardisation[1][0]
        w_stress = weights[2] if stress else 0.0
        losses = energy_force_losses(u, f, batch, m, s, loss, weights[0], weights[1], sigma,
                                     w_stress)  # fmt: skip
        update_energy_force_errors(
            errors, pairs, u, f, batch, w, losses, m, s, force_pairs=force_pairs, sigma=sigma,
            stress_pairs=stress_pairs,
        )
        return
    out = model_output(net, batch, kind, rotations, seed)
    losses = item_losses(out, normalised_target(batch, kind, *standardisation), kind, loss)
    update_errors(
        errors, pairs, to_prediction(out, batch, kind, *standardisation), batch, kind, w, losses
    )


def item_losses(out: Tensor, target: Tensor, kind: str, loss: str) -> Tensor:
    """Per-item loss of the standardised output ``out`` against the standardised ``target``:
    ``[B]`` (graph: ``out [B, T]``) or ``[N]`` (node vectors: ``out [N, 1, 3]``)."""
    diff = (out if kind == "graph" else out[:, 0]) - target
    err = diff.abs() if loss == "l1" else diff.square()
    return err.mean(-1)


def item_weights(batch, kind: str) -> Tensor:
    """The weight of each item: ``batch.weight`` (default 1) per graph ``[B]``, or per node
    ``[N]`` (its graph's) for node vectors."""
    w = getattr(batch, "weight", None)
    if w is None:
        w = torch.ones(batch.num_graphs, device=batch.pos.device)
    w = w.reshape(-1).to(batch.pos.dtype)
    if kind == "node_vector":
        graph = getattr(batch, "batch", None)
        w = w[graph] if graph is not None else w.expand(batch.pos.shape[0])
    return w


def update_errors(
    errors: ErrorSums,
    pairs: PairCollector | None,
    pred: Tensor,
    batch,
    kind: str,
    weight: Tensor,
    losses: Tensor,
) -> None:
    """Add the errors of the predictions ``pred`` (``[B, T]`` graph targets or ``[N, 3]``
    positions, data units) to ``errors`` and the pairs (prediction, truth) to ``pairs``."""
    if kind == "graph":
        true = batch.y.reshape(batch.num_graphs, -1)
        err = (pred - true)[:, :, None]  # [B, T, 1]
    else:
        true = batch.y
        err = (pred - true)[:, None, :]  # [N, 1, 3]
    errors.update(err, weight, losses)
    if pairs is not None:
        pairs.update(pred, true, weight)


def epoch_summary(
    errors: ErrorSums,
    spec: TaskSpec,
    stage: str,
    pairs: PairCollector | None = None,
    force_pairs: PairCollector | None = None,
    stress_pairs: PairCollector | None = None,
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """``(logged, summary)`` of an epoch's ``errors`` (which are reset): the metrics to log
    (``{stage}/loss`` and each target's MAE, and MSE of node vectors) and the summary
    (``loss``, ``count`` and per target ``mae``, ``rmse``, ``mse`` and units; with ``pairs``,
    which are reset too, their predictions and truths ``pred`` and ``true`` on the CPU; with
    ``force_pairs``, likewise ``force_pred`` and ``force_true`` ``[N, 3]``; with
    ``stress_pairs``, ``stress_pred`` and ``stress_true`` ``[B, 9]``)."""
    res = errors.compute()
    errors.reset()
    # torchmetrics squeezes one-element results to scalars
    res = {k: v.reshape(-1) if k in ("mae", "mse") else v for k, v in res.items()}
    logged = {f"{stage}/loss": res["loss"].float()}
    per_target = {}
    for j, t in enumerate(spec.targets):
        mae, mse = float(res["mae"][j]), float(res["mse"][j])
        logged[t.metric_name(stage, "mae")] = res["mae"][j].float()
        if spec.kind == "node_vector":
            logged[t.metric_name(stage, "mse")] = res["mse"][j].float()
        per_target[t.name] = {
            "mae": mae,
            "rmse": math.sqrt(mse),
            "mse": mse,
            "unit": t.unit,
            "mse_unit": f"({t.unit})^2" if t.unit else "",
        }
    summary = {
        "loss": float(res["loss"]),
        "count": int(round(float(res["count"]))),
        "targets": per_target,
    }
    collectors = (pairs, force_pairs, stress_pairs)
    for prefix, collector in zip(("", "force_", "stress_"), collectors, strict=True):
        if collector is not None:
            pred, true = collector.compute()
            collector.reset()
            summary[prefix + "pred"], summary[prefix + "true"] = pred.cpu(), true.cpu()
    return logged, summary
