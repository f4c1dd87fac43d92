"""Standardisation of the targets of a task: shift and scale from the training split.

* graph targets: ``shift = mean`` and ``scale = std`` of each target over the training items;
  extensive targets with ``per_atom`` use the per-atom mean ``m = mean(y / n)`` (shift ``n m``)
  and the std of the residual ``y - n m``;
* node vectors: no shift, ``scale`` = the RMS of one component of ``y - base``;
* energy + forces: the per-atom energy mean and one scale, the RMS force component
  (:func:`regconv.training.energy_forces.energy_force_statistics`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.training.spec import TaskSpec

__all__ = ["atoms_per_graph", "target_statistics"]


def atoms_per_graph(batch) -> Tensor:
    """The number of atoms of each graph of a batch (one graph if it has no ``batch``): ``[B]``."""
    index = getattr(batch, "batch", None)
    if index is None:
        return torch.full((1,), batch.pos.shape[0], device=batch.pos.device)
    return torch.bincount(index, minlength=batch.num_graphs)


@torch.no_grad()
def target_statistics(
    spec: TaskSpec, targets: dict[str, Tensor], standardize: bool, per_atom_mask: Tensor
) -> tuple[Tensor, Tensor]:
    """``(shift [T], scale [T])`` in float64 from the training targets of
    :meth:`regconv.training.GraphDataModule.training_targets` (``(0, 1)`` without
    ``standardize``)."""
    if spec.kind == "energy_forces":  # one scale: the forces stay -dE/dx
        from regconv.training.energy_forces import energy_force_statistics

        m, s = energy_force_statistics(
            targets["energy"], targets["num_atoms"], targets["forces"], standardize
        )
        shift = torch.tensor([m, 0.0], dtype=torch.float64)
        scale = torch.tensor([s, s], dtype=torch.float64)
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
