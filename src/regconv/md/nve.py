r"""Energy conservation: NVE (velocity Verlet) runs of a molecule and the drift of their total
energy.

From a start geometry, velocities are drawn at each start temperature (seeded, no net momentum
or rotation, :func:`regconv.md.velocities.thermalize`); the runs, one per temperature, are
integrated side by side without friction (:class:`regconv.md.replicas.ReplicaLangevin` at
:math:`\gamma = 0`, velocity Verlet: one force-field call per step for all temperatures).

A conservative force field (:math:`F = -\nabla E`) keeps the total energy
:math:`E_\text{tot} = E_\text{pot} + \tfrac12 \sum_i m_i v_i^2` constant up to the
integrator's fluctuations. Reported per run, over the samples :math:`(t_k, E_k)` taken every
``every`` steps, for a molecule of :math:`N` atoms:

- the drift, the slope of the least-squares line through :math:`E_\text{tot}(t)`, divided by
  :math:`N` (meV/atom/ps);
- the largest excursion :math:`\max_k |E_k - E_0| / N` (meV/atom);
- the mean kinetic temperature (K, :math:`3N` degrees of freedom).

A run whose energy or forces stop being finite (a force field that blows up) is finished there
(:attr:`regconv.md.ReplicaLangevin.nonfinite`) while the others go on; its ``nonfinite_at_step``
is that step, and its trace, drift, excursion and mean temperature cover the samples before it.

Shapes:
    ``trace`` ``[T, 4]``: per sample, time (ps), temperature (K), potential and total energy
    (eV).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from regconv.md.forces import ForceField
from regconv.md.replicas import ReplicaLangevin, num_steps
from regconv.md.velocities import thermalized_copies
from regconv.utils.checks import check_int, check_positive_list

__all__ = ["EnergyDrift", "NVERun", "energy_drift", "nve_drift"]


@dataclass(frozen=True)
class EnergyDrift:
    """The drift (meV/atom/ps) and the largest excursion from the start (meV/atom) of a total
    energy."""

    drift_meV_per_atom_ps: float
    max_excursion_meV_per_atom: float


def energy_drift(t_ps: np.ndarray, e_tot: np.ndarray, n_atoms: int) -> EnergyDrift:
    """Slope of the least-squares line through the total energy ``e_tot`` ``[T]`` (eV) against
    time ``t_ps`` ``[T]`` (ps), and the largest excursion from the start, per atom in meV."""
    t, e = np.asarray(t_ps, dtype=np.float64), np.asarray(e_tot, dtype=np.float64)
    if t.ndim != 1 or t.shape != e.shape or t.size == 0:
        raise ValueError(f"need times and energies of one shape [T], got {t.shape}, {e.shape}")
    if not (np.isfinite(t).all() and np.isfinite(e).all()):
        raise ValueError("times and energies must be finite (cut a run where it broke)")
    n_atoms = check_int("n_atoms", n_atoms)
    slope = np.polyfit(t, e, 1)[0] if t.size > 1 else 0.0
    return EnergyDrift(
        drift_meV_per_atom_ps=1000.0 * float(slope) / n_atoms,
        max_excursion_meV_per_atom=1000.0 * float(np.abs(e - e[0]).max()) / n_atoms,
    )


@dataclass(frozen=True, eq=False)
class NVERun:
    """One NVE run (module docstring): its start temperature, length, drift, excursion, mean
    temperature, speed (steps per second of the runs side by side), the step at which its
    energy or forces stopped being finite (None: they stayed finite) and its ``trace``
    ``[T, 4]`` (t in ps, temperature in K, potential and total energy in eV). ``steps`` counts
    the steps of the runs side by side; a run that broke is reported over its samples before
    ``nonfinite_at_step``."""

    start_temperature_K: float
    steps: int
    dt_fs: float
    drift_meV_per_atom_ps: float
    max_excursion_meV_per_atom: float
    mean_temperature_K: float
    steps_per_s: float
    nonfinite_at_step: int | None
    trace: np.ndarray

    def record(self) -> dict[str, float | int | None]:
        """The scalars (everything but the trace), for a JSON line."""
        out = asdict(self)
        del out["trace"]
        return out


def nve_drift(
    forces: ForceField,
    atoms,
    *,
    temperatures_K: Sequence[float],
    ps: float,
    dt_fs: float = 0.5,
    every: int = 10,
    seed: int = 0,
) -> list[NVERun]:
    """NVE runs of the molecule ``atoms`` (``ase.Atoms``, its positions the start) from
    velocities drawn at each of ``temperatures_K`` (with ``seed``), ``ps`` picoseconds at
    ``dt_fs`` fs, sampled every ``every`` steps (and at the end); one :class:`NVERun` per
    temperature, in order (a run that broke: module docstring). ``ValueError`` for a
    temperature, length, step or interval that is not a positive number, or a start whose
    energy is not finite."""
    temps = check_positive_list("temperatures_K", list(temperatures_K))
    steps = num_steps(ps, dt_fs)
    every = check_int("every", every)
    starts = thermalized_copies(atoms, temps, [seed] * len(temps))
    dyn = ReplicaLangevin.from_atoms(
        forces, starts, dt_fs=dt_fs, temperature_K=0.0, friction_per_fs=0.0,
        seeds=list(range(len(temps))),
    )  # fmt: skip
    if not np.isfinite(dyn.energies).all():
        raise ValueError(f"the energy of the start geometry is not finite: {dyn.energies[0]}")
    rows, at = [_sample(dyn)], [dyn.nsteps]  # the samples and their steps
    t0 = time.perf_counter()
    while dyn.nsteps < steps and dyn.active.any():
        dyn.step(min(every, steps - dyn.nsteps))
        rows.append(_sample(dyn))
        at.append(dyn.nsteps)
    wall = time.perf_counter() - t0
    traces, at = np.stack(rows, axis=1), np.array(at)  # [R, T, 4], [T]
    n, out = len(atoms), []
    for r, (temperature, trace) in enumerate(zip(temps, traces, strict=True)):
        broke = dyn.nonfinite.get(r)
        if broke is not None:
            trace = trace[at < broke]  # the samples before it broke (step 0 at least)
        out.append(
            NVERun(
                start_temperature_K=temperature,
                steps=dyn.nsteps,
                dt_fs=float(dt_fs),
                **asdict(energy_drift(trace[:, 0], trace[:, 3], n)),
                mean_temperature_K=float(trace[:, 1].mean()),
                steps_per_s=dyn.nsteps / wall if wall > 0 else float("inf"),
                nonfinite_at_step=broke,
                trace=trace,
            )
        )
    return out


def _sample(dyn: ReplicaLangevin) -> np.ndarray:
    """``[R, 4]``: time (ps), temperature (K), potential and total energy (eV) of each run."""
    t = np.full(dyn.num_replicas, dyn.nsteps * dyn.dt_fs / 1000.0)
    e_pot = dyn.energies.copy()
    return np.stack([t, dyn.temperatures(), e_pot, e_pot + dyn.kinetic_energies()], axis=1)
