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

Periodic frames with a stress target add

.. math::
    w_S\, \overline{\ell\big((\sigma^u_b - \sigma_b / s)\, V_b / n_b\big)}

over the nine components: the standardised stress ``\sigma^u = (1/V) \partial u/\partial
\varepsilon`` (:func:`standardised_energy_forces_stress`) against the data's, both times the
volume per atom, so that the term is a virial per atom on the scale of the energy's (default
``w_S = 10``). Stress errors are per component, in meV/Å³.
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.geometry import random_rotations
from regconv.graph import rotate_node_vectors, transform_batch
from regconv.models.contract import batch_vector, periodic_cell
from regconv.ops import scatter_mean
from regconv.training.standardise import atoms_per_graph

__all__ = [
    "energy_force_losses",
    "energy_force_predictions",
    "energy_forces",
    "energy_forces_stress",
    "graph_mean",
    "standardised_energy_forces",
    "standardised_energy_forces_stress",
    "update_energy_force_errors",
]


def _strain(batch, pos: Tensor):
    """A copy of ``batch`` with positions and cell moved by a symmetric strain ``e`` (zero,
    requires grad), ``x -> x (1 + e)`` and ``cell -> cell (1 + e)``; with ``e [B, 3, 3]`` and
    the cell volumes ``[B]``. ``ValueError`` unless every graph is periodic along all three
    axes with a cell of non-zero volume."""
    cell, pbc = periodic_cell(batch)
    if cell is None or not bool(pbc.all()):
        raise ValueError(
            "stress needs a cell periodic along all three axes in every graph of the batch"
        )
    cell = cell.to(pos)
    volume = torch.linalg.det(cell.detach()).abs()  # [B]
    if not bool((volume > 0).all()):
        raise ValueError("a singular cell (zero volume): stress needs cells of non-zero volume")
    graph, _ = batch_vector(batch)
    strain = torch.zeros(cell.shape[0], 3, 3, dtype=pos.dtype, device=pos.device,
                         requires_grad=True)  # fmt: skip
    sym = 0.5 * (strain + strain.transpose(1, 2))  # [B, 3, 3]
    moved = batch.clone()
    moved.pos = pos + torch.einsum("ni,nij->nj", pos, sym.index_select(0, graph))
    moved.cell = cell + cell @ sym
    return moved, strain, volume


def _once(net, batch, create_graph: bool, stress: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    moved = batch.clone()  # normal tensors, also when the batch was made in inference mode
    pos = moved.pos.detach().requires_grad_(True)
    moved.pos = pos
    inputs: tuple[Tensor, ...] = (pos,)
    volume = None
    if stress:
        moved, strain, volume = _strain(moved, pos)
        inputs = (pos, strain)
    out = net(moved)  # [B, 1]
    if out.dim() != 2 or out.shape[1] != 1:
        raise ValueError(f"an energy model returns [B, 1], got {tuple(out.shape)}")
    grads = torch.autograd.grad(out.sum(), inputs, create_graph=create_graph)
    sigma = grads[1] / volume.view(-1, 1, 1) if volume is not None else None  # [B, 3, 3]
    return out, -grads[0], sigma  # [B, 1], [N, 3], [B, 3, 3] or None


def standardised_energy_forces(
    net, batch, *, create_graph: bool, rotations: int = 0, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """The standardised energy ``u [B, 1]`` and forces ``-du/dpos [N, 3]``, averaged over
    ``rotations`` random rotations of every graph (forces rotated back) when ``rotations > 0``.

    Shapes:
        -> ``[B, 1]``, ``[N, 3]``.
    """
    u, f, _ = standardised_energy_forces_stress(
        net, batch, create_graph=create_graph, rotations=rotations, seed=seed, stress=False
    )
    return u, f


def standardised_energy_forces_stress(
    net, batch, *, create_graph: bool, rotations: int = 0, seed: int = 0, stress: bool = True
) -> tuple[Tensor, Tensor, Tensor | None]:
    r""":func:`standardised_energy_forces` and, with ``stress``, the standardised stress

    .. math::
        \sigma_b = \frac{1}{V_b}\,\frac{\partial u_b}{\partial \varepsilon}\Big|_{\varepsilon=0}

    for the symmetric strain ``x -> x (1 + e)``, ``cell -> cell (1 + e)`` of each graph (ASE's
    convention: positive under tension), rotated back (``Q^T sigma Q``) when averaged over
    rotations. Every graph must be periodic along all three axes.

    Shapes:
        -> ``[B, 1]``, ``[N, 3]``, ``[B, 3, 3]`` (None without ``stress``).
    """
    with torch.inference_mode(False), torch.enable_grad():
        if rotations <= 0:
            return _once(net, batch, create_graph, stress)
        g = torch.Generator()
        g.manual_seed(seed)
        energy = forces = sigma = None
        for _ in range(rotations):
            rot = random_rotations(batch.num_graphs, g)
            e, f, t = _once(net, transform_batch(batch, rotation=rot), create_graph, stress)
            f = rotate_node_vectors(f.unsqueeze(1), rot, batch, inverse=True)[:, 0]
            energy = e if energy is None else energy + e
            forces = f if forces is None else forces + f
            if t is not None:
                q = rot.to(t)
                t = q.transpose(1, 2) @ t @ q  # back to the input's frame
                sigma = t if sigma is None else sigma + t
        if sigma is not None:
            sigma = sigma / rotations
        return energy / rotations, forces / rotations, sigma


def graph_mean(values: Tensor, batch) -> Tensor:
    """Mean of node values ``[N]`` within each graph: ``[B]``."""
    index = getattr(batch, "batch", None)
    if index is None:
        return values.mean().reshape(1)
    return scatter_mean(values, index, batch.num_graphs)


def _ell(diff: Tensor, loss: str) -> Tensor:
    return diff.abs() if loss == "l1" else diff.square()


def _stress_target(batch, like: Tensor) -> Tensor:
    stress = getattr(batch, "stress", None)
    if stress is None:
        raise ValueError("the task trains on stress: the batch needs stress [B, 3, 3]")
    return stress.reshape(-1, 3, 3).to(like)


def energy_force_losses(
    u: Tensor,
    f: Tensor,
    batch,
    m: Tensor,
    s: Tensor,
    loss: str,
    w_energy: float,
    w_forces: float,
    sigma: Tensor | None = None,
    w_stress: float = 0.0,
) -> Tensor:
    """Per-graph loss ``[B]``: ``w_E l(u - (E - n m)/s) + w_F mean_{i in b, k} l(f + F/s)``
    (``f`` the standardised forces ``-du/dx``, ``F = batch.forces``), plus with ``sigma``
    ``[B, 3, 3]`` (the standardised stress) ``w_S mean_{kl} l((sigma - S/s) V/n)``
    (``S = batch.stress``)."""
    n = atoms_per_graph(batch).to(u.dtype)
    target_u = (batch.energy.reshape(-1).to(u.dtype) - n * m) / s  # [B]
    e_loss = _ell(u[:, 0] - target_u, loss)  # [B]
    f_loss = _ell(f - batch.forces.to(f.dtype) / s, loss).mean(-1)  # [N]
    total = w_energy * e_loss + w_forces * graph_mean(f_loss, batch)
    if sigma is not None and w_stress > 0:
        volume = torch.linalg.det(batch.cell.reshape(-1, 3, 3).to(sigma)).abs()  # [B]
        per_atom = (volume / n).view(-1, 1, 1)
        diff = (sigma - _stress_target(batch, sigma) / s) * per_atom  # [B, 3, 3]
        total = total + w_stress * _ell(diff, loss).flatten(1).mean(-1)
    return total


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


def energy_forces_stress(
    net, batch, m: Tensor, s: Tensor, *, rotations: int = 0, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`energy_forces` and the stress ``s sigma`` ``[B, 3, 3]`` in data units (the energy
    unit per Å^3: meV/Å^3 for meV energies), detached, of graphs periodic along all three axes
    (:func:`standardised_energy_forces_stress`).

    Shapes:
        -> ``[B]``, ``[N, 3]``, ``[B, 3, 3]``.
    """
    u, f, sigma = standardised_energy_forces_stress(
        net, batch, create_graph=False, rotations=rotations, seed=seed
    )
    e, f = energy_force_predictions(u, f, batch, m, s)
    return e.detach(), f.detach(), (s * sigma).detach()


def update_energy_force_errors(
    errors, pairs, u, f, batch, weight, losses, m, s, *, force_pairs=None, sigma=None,
    stress_pairs=None,
) -> None:
    """Add the energy errors ``[B]`` (target 0, meV) and force errors ``[N, 3]`` (target 1,
    meV/Å) of a batch to an :class:`regconv.training.metrics.ErrorSums` (graph weights
    ``weight [B]``; each atom carries its graph's), with ``sigma`` (the standardised stress
    ``[B, 3, 3]``) the stress errors (target 2, meV/Å³, nine components), the energies to
    ``pairs``, the forces to ``force_pairs`` and the stress to ``stress_pairs`` (parity
    plots)."""
    if sigma is not None:
        true_sigma = _stress_target(batch, sigma)  # [B, 3, 3]
        diff = s * sigma - true_sigma
        errors.update(diff.reshape(-1, 1, 9), weight, None, target=2)
        if stress_pairs is not None:
            stress_pairs.update((s * sigma).reshape(-1, 9), true_sigma.reshape(-1, 9), weight)
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
