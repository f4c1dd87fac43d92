r"""Forces of an energy model, as the equivariance kit and the force tests see them.

An energy model is any model whose graph output ``[B, 1]`` is read as the energy ``E_b`` of each
graph; its forces are ``F = -\partial E / \partial x`` by autograd (:func:`forces_of`). Forces
are node vectors, so ``assert_equivariant(forces_of(model), batch)`` checks that they rotate and
reflect with the input and are unchanged by translations and permutations. Whether they are
the gradient of the energy at all is checked against central finite differences of ``E``
(:func:`finite_difference_forces`, :func:`conservation_error`), best in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["conservation_error", "finite_difference_forces", "forces_of"]


def _energy(model: Callable, batch, pos: Tensor) -> Tensor:
    moved = batch.clone()
    moved.pos = pos
    out = model(moved)
    if out.dim() != 2 or out.shape[1] != 1:
        raise ValueError(f"an energy model returns [B, 1], got {tuple(out.shape)}")
    return out.sum()


def forces_of(model: Callable) -> Callable:
    """``batch -> F [N, 1, 3]``, ``F = -dE/dpos`` of ``E = sum_b model(batch)[b, 0]`` (autograd,
    also under ``torch.no_grad``); the caller's batch is not modified.

    Shapes:
        -> ``[N, 1, 3]`` (a node vector field, as the equivariance kit expects).
    """

    def forces(batch) -> Tensor:
        with torch.enable_grad():
            pos = batch.pos.detach().clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(_energy(model, batch, pos), pos)
        return (-grad).unsqueeze(1)

    return forces


@torch.no_grad()
def finite_difference_forces(model: Callable, batch, step: float = 1e-4) -> Tensor:
    """``-(E(x + h e_k) - E(x - h e_k)) / 2h`` for every coordinate ``k``: ``[N, 3]``
    (``6 N`` evaluations; use float64 and small molecules)."""
    pos = batch.pos.detach()
    out = torch.zeros_like(pos)
    for i in range(pos.shape[0]):
        for d in range(3):
            plus, minus = pos.clone(), pos.clone()
            plus[i, d] += step
            minus[i, d] -= step
            e_plus = _energy(model, batch, plus)
            e_minus = _energy(model, batch, minus)
            out[i, d] = -(e_plus - e_minus) / (2 * step)
    return out


def conservation_error(model: Callable, batch, step: float = 1e-4) -> float:
    """``max |F_autograd - F_fd| / max |F_fd|``: 0 up to the finite-difference error
    (``O(step^2)``) for a model whose forces are the gradient of its energy."""
    auto = forces_of(model)(batch)[:, 0]
    fd = finite_difference_forces(model, batch, step)
    return float((auto - fd).abs().max() / fd.abs().max().clamp_min(1e-300))
