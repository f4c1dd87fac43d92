r"""The periodic part of the equivariance kit: random crystals, supercells, lattice translations
and the finite-difference stress.

A model of a periodic system must be unchanged when

- an atom moves by a lattice vector ``n_1 a_1 + n_2 a_2 + n_3 a_3`` along periodic axes (the
  crystal is the same set of points): :func:`periodic_errors`' ``"lattice_translation"``;
- the cell is replaced by a supercell: an extensive energy is multiplied by the number of
  copies and each copy of an atom carries the same force or vector output:
  ``"supercell"``.

Rotating (or reflecting) the cell and the positions together is the ordinary
:func:`regconv.testing.assert_equivariant`, whose transform moves the cell with the atoms.

The stress reference :func:`finite_difference_stress` deforms cell and positions by
``x -> x (1 + e)`` for each symmetric strain component and differences the energy: it shares
nothing with the autograd stress of :mod:`regconv.training.energy_forces`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
from torch import Tensor

from regconv.graph import MoleculeBatch

__all__ = [
    "finite_difference_stress",
    "lattice_translation",
    "periodic_errors",
    "random_crystals",
    "supercell",
]


def random_crystals(
    sizes: tuple[int, ...] = (5, 7),
    *,
    pbc: tuple[bool, bool, bool] = (True, True, True),
    length: float = 4.0,
    skew: float = 0.3,
    min_distance: float = 0.9,
    max_z: int = 9,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
) -> MoleculeBatch:
    """A batch of random periodic systems: per graph a skewed cell of edge about ``length`` Å
    (right-handed), ``n`` atoms at least ``min_distance`` Å apart (periodic images included)
    placed anywhere, also outside the cell.

    Shapes:
        -> ``pos [N, 3]``, ``z [N]``, ``batch [N]``, ``cell [B, 3, 3]``, ``pbc [B, 3]``.
    """
    g = torch.Generator().manual_seed(seed)
    cells, molecules = [], []
    for n in sizes:
        cell = torch.eye(3, dtype=torch.float64) * length
        cell = cell + skew * length * (torch.rand(3, 3, generator=g, dtype=torch.float64) - 0.5)
        if torch.linalg.det(cell) < 0:
            cell[0] = -cell[0]
        pos = torch.empty(0, 3, dtype=torch.float64)
        inv = torch.linalg.inv(cell)
        while pos.shape[0] < n:
            frac = torch.rand(3, generator=g, dtype=torch.float64) * 1.6 - 0.3
            x = frac @ cell
            if pos.shape[0]:
                d = (x - pos) @ inv  # fractional differences, minimum image along periodic axes
                axes = torch.tensor(pbc)
                d = torch.where(axes, d - torch.round(d), d) @ cell
                if float(d.norm(dim=1).min()) < min_distance:
                    continue
            pos = torch.cat([pos, x[None]])
        z = torch.randint(1, max_z + 1, (n,), generator=g)
        molecules.append((z, pos.to(dtype)))
        cells.append(cell)
    batch = MoleculeBatch.from_molecules(molecules, dtype=dtype)
    batch.cell = torch.stack(cells).to(dtype)
    batch.pbc = torch.tensor([pbc] * len(sizes), dtype=torch.bool)
    return batch


def _graph_sizes(batch) -> list[int]:
    return torch.bincount(batch.batch, minlength=batch.num_graphs).tolist()


def supercell(batch, reps: tuple[int, int, int] = (2, 2, 2)) -> tuple[MoleculeBatch, Tensor]:
    """Every graph repeated ``reps`` times along its lattice vectors (``reps`` is 1 on a
    non-periodic axis), and for each node of the result the node of ``batch`` it copies (whose
    other node-level tensors, such as ``x`` and ``vec``, it carries).

    Shapes:
        -> the supercell batch (``z``, ``pos``, ``batch``, ``cell [B, 3, 3]``, ``pbc``), ``[N']``.
    """
    cells = batch.cell.reshape(-1, 3, 3)
    pbc = batch.pbc.reshape(-1, 3)
    for k, r in enumerate(reps):
        if r != 1 and not bool(pbc[:, k].all()):
            raise ValueError(f"axis {k} is not periodic in every graph: it cannot be repeated")
    copies = list(itertools.product(*(range(r) for r in reps)))
    molecules, source, start = [], [], 0
    for g, size in enumerate(_graph_sizes(batch)):
        z, pos = batch.z[start : start + size], batch.pos[start : start + size]
        shifts = torch.tensor(copies, dtype=pos.dtype) @ cells[g].to(pos.dtype)  # [R, 3]
        molecules.append((z.repeat(len(copies)), (pos[None] + shifts[:, None]).reshape(-1, 3)))
        source.append(torch.arange(start, start + size).repeat(len(copies)))
        start += size
    out = MoleculeBatch.from_molecules(molecules, dtype=batch.pos.dtype)
    out.cell = cells * torch.tensor(reps, dtype=cells.dtype).view(1, 3, 1)
    out.pbc = pbc.clone()
    source = torch.cat(source)
    n = batch.pos.shape[0]
    for key in batch.keys():  # other node-level tensors (features, vectors) are copied
        value = getattr(batch, key)
        if key not in ("z", "pos", "batch", "ptr", "cell", "pbc") and value.shape[:1] == (n,):
            setattr(out, key, value.index_select(0, source))
    return out, source


def lattice_translation(batch, generator: torch.Generator, span: int = 2):
    """A copy of ``batch`` with every atom moved by a random integer combination (entries in
    ``[-span, span]``) of its graph's periodic lattice vectors.

    Shapes: ``pos [N, 3]``, ``cell [B, 3, 3]``, ``pbc [B, 3]`` -> the same."""
    cells = batch.cell.reshape(-1, 3, 3)
    pbc = batch.pbc.reshape(-1, 3)
    n = batch.pos.shape[0]
    ints = torch.randint(-span, span + 1, (n, 3), generator=generator).to(batch.pos.device)
    ints = ints * pbc[batch.batch].long()  # [N, 3], zero on open axes
    moved = batch.clone()
    moved.pos = batch.pos + torch.einsum(
        "nk,nkd->nd", ints.to(batch.pos.dtype), cells[batch.batch].to(batch.pos.dtype)
    )
    return moved


def _relative_error(a: Tensor, b: Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


def periodic_errors(
    model: Callable,
    batch,
    *,
    reps: tuple[int, int, int] = (2, 2, 2),
    extensive: bool = True,
    trials: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Worst relative errors of ``model`` under lattice translations of single atoms and under
    the supercell ``reps`` (graph outputs ``[B, k]`` times the number of copies when
    ``extensive``, else equal; node outputs ``[N, ...]`` equal on every copy of a node).

    Shapes:
        ``model(batch)`` -> ``[B, k]`` or ``[N, ...]``.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ref = model(batch)
        worst = 0.0
        for _ in range(trials):
            worst = max(worst, _relative_error(model(lattice_translation(batch, gen)), ref))
        big, source = supercell(batch, reps)
        out = model(big)
        node_level = ref.shape[0] == batch.pos.shape[0] and ref.shape[0] != batch.num_graphs
        if node_level:
            expected = ref.index_select(0, source)
        else:
            expected = ref * (reps[0] * reps[1] * reps[2] if extensive else 1)
    return {"lattice_translation": worst, "supercell": _relative_error(out, expected)}


@torch.no_grad()
def finite_difference_stress(energy: Callable, batch, step: float = 1e-5) -> Tensor:
    r"""``(1/V) dE/de`` by central differences: for each symmetric strain ``e`` (component
    ``(a, b)`` and its mirror ``(b, a)`` by ``step / 2`` each, ``(a, a)`` by ``step``), cell and
    positions of every graph move by ``x -> x (1 + e)``; ``energy(batch) -> [B]``.

    Shapes:
        -> ``[B, 3, 3]`` (symmetric).
    """
    cells = batch.cell.reshape(-1, 3, 3)
    volume = torch.linalg.det(cells).abs()  # [B]
    out = torch.zeros(cells.shape[0], 3, 3, dtype=cells.dtype, device=cells.device)
    for a in range(3):
        for b in range(a, 3):
            e = torch.zeros(3, 3, dtype=cells.dtype, device=cells.device)
            e[a, b] += step / 2
            e[b, a] += step / 2
            values = []
            for sign in (1.0, -1.0):
                moved = batch.clone()
                moved.pos = batch.pos + sign * batch.pos @ e
                moved.cell = cells + sign * cells @ e
                values.append(energy(moved).reshape(-1))
            de = (values[0] - values[1]) / (2 * step)  # [B]
            out[:, a, b] = de / volume
            out[:, b, a] = de / volume
    return out
