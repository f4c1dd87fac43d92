"""Standardisation of the targets of a task: shift and scale from the training split, and the
maps between data units and the standardised units the model is trained in.

* graph targets: ``shift = mean`` and ``scale = std`` of each target over the training items;
  extensive targets with ``per_atom`` use the per-atom mean ``m = mean(y / n)`` (shift ``n m``)
  and the std of the residual ``y - n m``;
* node vectors: no shift, ``scale`` = the RMS of one component of ``y - base``;
* energy + forces: the per-atom energy mean and one scale, the RMS force component
  (:func:`energy_force_statistics`; the energy + force maps are in
  :mod:`regconv.training.energy_forces`, which builds on this module).

A graph prediction is ``out * scale + shift`` (``shift`` times the number of atoms for per-atom
targets), a node-vector prediction ``base + scale * out[:, 0]`` (``base``: the batch's reference
positions, default ``pos``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.training.spec import TaskSpec, reference_positions

__all__ = [
    "atoms_per_graph",
    "energy_force_statistics",
    "graph_shift",
    "normalised_target",
    "target_statistics",
    "to_prediction",
]


def atoms_per_graph(batch) -> Tensor:
    """The number of atoms of each graph of a batch (one graph if it has no ``batch``): ``[B]``."""
    index = getattr(batch, "batch", None)
    if index is None:
        return torch.full((1,), batch.pos.shape[0], device=batch.pos.device)
    return torch.bincount(index, minlength=batch.num_graphs)


def graph_shift(batch, shift: Tensor, per_atom_mask: Tensor) -> Tensor:
    """``[B, T]`` additive part of graph predictions: ``shift``, times the number of atoms for
    the targets of ``per_atom_mask``."""
    n = atoms_per_graph(batch).to(shift.dtype)[:, None]
    return shift[None, :] * torch.where(per_atom_mask[None, :], n, torch.ones_like(n))


def to_prediction(
    out: Tensor, batch, kind: str, shift: Tensor, scale: Tensor, per_atom_mask: Tensor
) -> Tensor:
    """Standardised output -> prediction in data units: ``[B, T]`` (graph) or ``[N, 3]``
    positions (node vectors: ``base + scale * out[:, 0]``)."""
    if kind == "graph":
        return out * scale + graph_shift(batch, shift, per_atom_mask)
    return reference_positions(batch) + out[:, 0] * scale


def normalised_target(
    batch, kind: str, shift: Tensor, scale: Tensor, per_atom_mask: Tensor
) -> Tensor:
    """The batch's targets in standardised units (the inverse of :func:`to_prediction`):
    ``[B, T]`` (graph) or ``[N, 3]`` (node vectors)."""
    if kind == "graph":
        y = batch.y.reshape(batch.num_graphs, -1)
        return (y - graph_shift(batch, shift, per_atom_mask)) / scale
    return (batch.y - reference_positions(batch)) / scale


@torch.no_grad()
def energy_force_statistics(
    energy: Tensor, num_atoms: Tensor, forces: Tensor, standardize: bool
) -> tuple[float, float]:
    """``(m, s)``: the mean energy per atom and the RMS force component of the training
    frames (``(0, 1)`` without ``standardize``).

    Shapes:
        energy ``[M]``, num_atoms ``[M]``, forces ``[K, 3]`` (all atoms of the M frames).
    """
    if not standardize:
        return 0.0, 1.0
    m = float((energy.double() / num_atoms.double()).mean()) if energy.numel() else 0.0
    s = float(forces.double().square().mean().sqrt()) if forces.numel() else 1.0
    return m, (s if s > 0 and s == s else 1.0)


@torch.no_grad()
def target_statistics(
    spec: TaskSpec, targets: dict[str, Tensor], standardize: bool, per_atom_mask: Tensor
) -> tuple[Tensor, Tensor]:
    """``(shift [T], scale [T])`` in float64 from the training targets of
    :meth:`regconv.training.GraphDataModule.training_targets` (``(0, 1)`` without
    ``standardize``)."""
    if spec.kind == "energy_forces":  # one scale: the forces stay -dE/dx
        m, s = energy_force_statistics(
            targets["energy"], targets["num_atoms"], targets["forces"], standardize
        )
        t = len(spec.targets)  # energy, forces (and stress): one scale
        shift = torch.tensor([m] + [0.0] * (t - 1), dtype=torch.float64)
        scale = torch.tensor([s] * t, dtype=torch.float64)
    elif spec.kind == "graph":
        y = targets["y"].double()
        n = targets["num_atoms"].double()
        if y.dim() != 2 or y.shape[1] != len(spec.targets) or n.shape[0] != y.shape[0]:
            raise ValueError(
                f"training targets of shape {tuple(y.shape)} / {tuple(n.shape)} do not fit "
                f"the task's {len(spec.targets)} target(s)"
            )
        shift = torch.zeros(y.shape[1], dtype=torch.float64)
        scale = torch.ones(y.shape[1], dtype=torch.float64)
        if standardize:
            for j in range(y.shape[1]):
                if bool(per_atom_mask[j]):
                    shift[j] = (y[:, j] / n).mean()
                    resid = y[:, j] - n * shift[j]
                else:
                    shift[j] = y[:, j].mean()
                    resid = y[:, j] - shift[j]
                s = resid.std() if resid.numel() > 1 else torch.tensor(1.0)
                scale[j] = s if torch.isfinite(s) and s > 0 else 1.0
    else:
        d = targets["displacement"].double()
        shift = torch.zeros(1, dtype=torch.float64)
        s = d.square().mean().sqrt() if d.numel() else torch.tensor(1.0)
        ok = standardize and torch.isfinite(s) and s > 0
        scale = torch.tensor([float(s) if ok else 1.0], dtype=torch.float64)
    return shift, scale
