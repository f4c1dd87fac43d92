r"""Start velocities of molecular dynamics: Maxwell-Boltzmann at a temperature, without net
momentum or rotation.

Each Cartesian velocity component of atom :math:`i` is drawn from
:math:`\mathcal N(0, k_B T / m_i)`; then the centre-of-mass velocity and the angular momentum
about the centre of mass are removed (ASE's ``thermalize_momenta``, ``Stationary``,
``ZeroRotation``), so a free molecule neither drifts nor spins.

Shapes:
    a molecule of ``N`` atoms: velocities ``[N, 3]`` (Å per ASE time unit).
"""

from __future__ import annotations

import numpy as np

__all__ = ["thermalize"]


def thermalize(atoms, temperature_K: float, rng: np.random.Generator) -> None:
    """Set the velocities of ``atoms`` (``ase.Atoms``, in place) to a draw at
    ``temperature_K`` from ``rng``, without net momentum or rotation."""
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    if not (np.isfinite(temperature_K) and temperature_K >= 0):
        raise ValueError(f"temperature_K must be a finite number >= 0, got {temperature_K!r}")
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
