r"""Start velocities of molecular dynamics: Maxwell-Boltzmann at a temperature, without net
momentum or rotation.

Each Cartesian velocity component of atom :math:`i` is drawn from
:math:`\mathcal N(0, k_B T / m_i)`; then the centre-of-mass velocity and the angular momentum
about the centre of mass are removed (ASE's ``thermalize_momenta``, ``Stationary``,
``ZeroRotation``), so a free molecule neither drifts nor spins.

:func:`thermalized_copies` gives the starts of runs side by side: copies of one molecule, each
with its own draw.

Shapes:
    a molecule of ``N`` atoms: velocities ``[N, 3]`` (Å per ASE time unit).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from regconv.utils.checks import check_nonnegative

__all__ = ["thermalize", "thermalized_copies"]


def thermalize(atoms, temperature_K: float, rng: np.random.Generator) -> None:
    """Set the velocities of ``atoms`` (``ase.Atoms``, in place) to a draw at
    ``temperature_K`` from ``rng``, without net momentum, and for a molecule without rotation
    (a periodic system has no conserved angular momentum: it keeps its draw)."""
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    temperature_K = check_nonnegative("temperature_K", temperature_K)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    if not atoms.pbc.any():
        ZeroRotation(atoms)


def thermalized_copies(atoms, temperatures_K: Sequence[float], seeds: Sequence[int]) -> list:
    """Copies of ``atoms`` (``ase.Atoms``, left as it is), copy ``r`` with velocities drawn by
    :func:`thermalize` at ``temperatures_K[r]`` from a generator seeded ``seeds[r]``.
    ``ValueError`` for lists of different lengths or a bad temperature."""
    if len(temperatures_K) != len(seeds):
        n_t, n_s = len(temperatures_K), len(seeds)
        raise ValueError(f"need one seed per temperature: {n_s} seeds, {n_t} temperatures")
    starts = []
    for temperature, seed in zip(temperatures_K, seeds, strict=True):
        start = atoms.copy()
        thermalize(start, temperature, np.random.default_rng(seed))
        starts.append(start)
    return starts
