r"""Energy + force targets of :class:`regconv.training.RegressionTask` (``energy_forces`` kind).

The model outputs one number per molecule, the standardised energy ``u_b``; the prediction is

.. math::
    E_b = s\, u_b + n_b\, m, \qquad
    F_i = -\partial E / \partial x_i = -s\, \partial u / \partial x_i

with ``m`` the mean energy per atom and ``s`` the RMS of the force components over the training
frames (one scale for both, so the forces stay the exact gradient of the energy;
:func:`regconv.training.standardise.energy_force_statistics`). The forces
come from autograd (``create_graph`` while training, so the loss on forces trains the model),
also under Lightning's inference mode (validation and test switch it off locally). The loss on
standardised quantities is

.. math::
    L = w_E\, \overline{\ell(u_b - (E_b - n_b m)/s)}
        + w_F\, \overline{\ell(F_{i,k}/s + \partial u/\partial x_{i,k})}

with ``\ell`` the task's ``l1`` or ``mse``; defaults ``w_E = 1``, ``w_F = 100`` (forces weighted
heavily, as MACE's and PONITA's MD17 training). Errors are reported per molecule for the energy
(meV) and per component for the forces (meV/Å).
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.geometry import random_rotations
from regconv.graph import rotate_node_vectors, transform_batch
from regconv.ops import scatter_mean
from regconv.training.standardise import atoms_per_graph

__all__ = [
    "energy_force_losses",
    "energy_force_predictions",
    "energy_forces",
    "graph_mean",
    "standardised_energy_forces",
    "update_energy_force_errors",
]


def _once(net, batch, create_graph: bool) -> tuple[Tensor, Tensor]:
    moved = batch.clone()  # normal tensors, also when the batch was made in inference mode
    pos = moved.pos.detach().requires_grad_(True)
    moved.pos = pos
    out = net(moved)  # [B, 1]
    if out.dim() != 2 or out.shape[1] != 1:
        raise ValueError(f"an energy model returns [B, 1], got {tuple(out.shape)}")
    (grad,) = torch.autograd.grad(out.sum(), pos, create_graph=create_graph)
    return out, -grad  # [B, 1], [N, 3]


def standardised_energy_forces(
    net, batch, *, create_graph: bool, rotations: int = 0, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """The standardised energy ``u [B, 1]`` and forces ``-du/dpos [N, 3]``, averaged over
    ``rotations`` random rotations of every graph (forces rotated back) when ``rotations > 0``.

    Shapes:
        -> ``[B, 1]``, ``[N, 3]``.
    """
    with torch.inference_mode(False), torch.enable_grad():
        if rotations <= 0:
            return _once(net, batch, create_graph)
        g = torch.Generator()
        g.manual_seed(seed)
        energy = forces = None
        for _ in range(rotations):
            rot = random_rotations(batch.num_graphs, g)
            e, f = _once(net, transform_batch(batch, rotation=rot), create_graph)
            f = rotate_node_vectors(f.unsqueeze(1), rot, batch, inverse=True)[:, 0]
            energy = e if energy is None else energy + e
            forces = f if forces is None else forces + f
        return energy / rotations, forces / rotations


def graph_mean(values: Tensor, batch) -> Tensor:
    """Mean of node values ``[N]`` within each graph: ``[B]``."""
    index = getattr(batch, "batch", None)
    if index is None:
        return values.mean().reshape(1)
    return scatter_mean(values, index, batch.num_graphs)


def _ell(diff: Tensor, loss: str) -> Tensor:
    return diff.abs() if loss == "l1" else diff.square()


def energy_force_losses(
    u: Tensor, f: Tensor, batch, m: Tensor, s: Tensor, loss: str, w_energy: float, w_forces: float
) -> Tensor:
    """Per-graph loss ``[B]``: ``w_E l(u - (E - n m)/s) + w_F mean_{i in b, k} l(f + F/s)``
    (``f`` the standardised forces ``-du/dx``, ``F = batch.forces``)."""
    n = atoms_per_graph(batch).to(u.dtype)
    target_u = (batch.energy.reshape(-1).to(u.dtype) - n * m) / s  # [B]
    e_loss = _ell(u[:, 0] - target_u, loss)  # [B]
    f_loss = _ell(f - batch.forces.to(f.dtype) / s, loss).mean(-1)  # [N]
    return w_energy * e_loss + w_forces * graph_mean(f_loss, batch)


def energy_force_predictions(u: Tensor, f: Tensor, batch, m: Tensor, s: Tensor):
    """Energies ``[B]`` (meV) and forces ``[N, 3]`` (meV/Å) from the standardised ones."""
    n = atoms_per_graph(batch).to(u.dtype)
    return s * u[:, 0] + n * m, s * f


def energy_forces(
    net, batch, m: Tensor, s: Tensor, *, rotations: int = 0, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Energies ``E_b = s u_b + n_b m`` ``[B]`` and forces ``F = -s du/dx`` ``[N, 3]`` of ``net``
    in data units, detached, averaged over ``rotations`` random rotations (seeded by ``seed``)
    when ``rotations > 0``: the one evaluation of an energy + force model, for the task and
    :class:`regconv.training.inference.Predictor` alike.

    Shapes:
        -> ``[B]``, ``[N, 3]``.
    """
    u, f = standardised_energy_forces(
        net, batch, create_graph=False, rotations=rotations, seed=seed
    )
    e, f = energy_force_predictions(u, f, batch, m, s)
    return e.detach(), f.detach()


def update_energy_force_errors(
    errors, pairs, u, f, batch, weight, losses, m, s, *, force_pairs=None
) -> None:
    """Add the energy errors ``[B]`` (target 0, meV) and force errors ``[N, 3]`` (target 1,
    meV/Å) of a batch to an :class:`regconv.training.metrics.ErrorSums` (graph weights
    ``weight [B]``; each atom carries its graph's), the energies to ``pairs`` and the forces to
    ``force_pairs`` (parity plots)."""
    e, f = energy_force_predictions(u, f, batch, m, s)
    graph = getattr(batch, "batch", None)
    node_w = weight[graph] if graph is not None else weight.expand(f.shape[0])  # [N]
    true_e = batch.energy.reshape(-1).to(e.dtype)
    errors.update((e - true_e)[:, None, None], weight, losses, target=0)
    errors.update((f - batch.forces.to(f.dtype))[:, None, :], node_w, None, target=1)
    if pairs is not None:
        pairs.update(e[:, None].detach(), true_e[:, None], weight)
    if force_pairs is not None:
        force_pairs.update(f.detach(), batch.forces.to(f.dtype), node_w)
