r"""Molecular dynamics of one molecule through its ASE calculator (what ``regconv md`` runs).

Velocities are drawn at ``temperature_K`` (:func:`regconv.md.velocities.thermalize`); then
either Langevin dynamics at that bath temperature with friction :math:`\gamma` (ASE's
``Langevin``) or, with ``thermostat="none"``, NVE velocity Verlet. With ``pressure_GPa`` (a
periodic system) the ensemble is NPT: ASE's ``LangevinBAOAB``, Langevin on the atoms (time
constant :math:`1/\gamma`) and Langevin-Hoover on a fully flexible cell (Quigley and Probert
2004) at that external pressure, cell time constant ``barostat_tau_fs``. The velocity draw and
the Langevin noise come from two generators spawned from ``seed``, so a run is reproducible.

Every ``every`` steps (and at step 0) a frame (extended XYZ with energy and forces) is appended
to ``trajectory`` and a row to ``log`` (step, time, temperature, potential and total energy,
and the drift of the total energy per atom since the start,
:math:`1000\,(E_\text{tot}(t) - E_\text{tot}(0))/N` meV/atom; for a periodic system also the
volume in Å³ and the pressure in GPa, the kinetic part included), each flushed, so a killed run
leaves valid partial files.

Shapes:
    a molecule of ``N`` atoms: positions, velocities and forces ``[N, 3]`` (Å, Å per ASE time
    unit, eV/Å).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regconv.md.structures import append_frame
from regconv.md.velocities import thermalize
from regconv.utils.checks import check_choice, check_int, check_nonnegative, check_positive

__all__ = ["LOG_HEADER", "MDResult", "PERIODIC_COLUMNS", "molecular_dynamics", "progress_line"]

LOG_HEADER = "step,time_fs,temperature_K,epot_eV,etot_eV,drift_meV_per_atom\n"
#: the columns a periodic system's log adds
PERIODIC_COLUMNS = ",volume_A3,pressure_GPa"


@dataclass(frozen=True)
class MDResult:
    """The end of a run: steps, frames written, the last temperature (K), potential energy
    (eV) and drift (meV/atom), and the wall time (s)."""

    steps: int
    frames: int
    temperature_K: float
    epot_eV: float
    drift_meV_per_atom: float
    seconds: float


def progress_line(
    step: int, steps: int, dt: float, temp: float, epot: float, drift: float, elapsed: float
) -> str:
    """One progress report: a bar, the step, simulated time, temperature, potential energy,
    total-energy drift per atom since the start, speed and the time left."""
    frac = step / steps if steps else 1.0
    bar = "#" * round(20 * frac) + "-" * (20 - round(20 * frac))
    rate = step / elapsed if elapsed > 0 else float("nan")
    left = (steps - step) / rate if step and rate > 0 else float("nan")
    return (
        f"regconv md: [{bar}] {100 * frac:3.0f}%  step {step}/{steps}  t {step * dt:.1f} fs  "
        f"T {temp:.1f} K  Epot {epot:.4f} eV  drift {drift:+.3f} meV/atom  "
        f"{rate:.1f} steps/s  {left:.0f} s left"
    )


def molecular_dynamics(
    atoms,
    *,
    steps: int,
    trajectory: str | Path,
    log: str | Path | None = None,
    dt_fs: float = 0.5,
    temperature_K: float = 300.0,
    thermostat: str = "langevin",
    friction_per_fs: float = 0.01,
    every: int = 10,
    seed: int = 0,
    pressure_GPa: float | None = None,
    barostat_tau_fs: float = 2000.0,
    progress: Callable[[str], None] | None = None,
) -> MDResult:
    """Run ``steps`` steps of ``atoms`` (``ase.Atoms`` with its calculator, moved in place) as
    the module docstring says; ``progress`` receives a :func:`progress_line` about 20 times per
    run. ``ValueError`` for bad settings, before any file is written (``pressure_GPa`` needs
    the Langevin thermostat and a system periodic along all three axes)."""
    from ase.md.langevin import Langevin
    from ase.md.langevinbaoab import LangevinBAOAB
    from ase.md.verlet import VelocityVerlet

    from ase import units

    steps, every = check_int("steps", steps), check_int("every", every)
    dt_fs = check_positive("dt_fs", dt_fs)
    friction = check_nonnegative("friction_per_fs", friction_per_fs)
    temperature_K = check_nonnegative("temperature_K", temperature_K)
    check_choice("thermostat", thermostat, ("langevin", "none"))
    if thermostat == "langevin" and friction == 0:
        raise ValueError("friction_per_fs must be > 0 for the Langevin thermostat, got 0")
    if atoms.calc is None:
        raise ValueError("atoms has no calculator: set atoms.calc (e.g. a RegconvCalculator)")
    periodic = bool(np.all(atoms.pbc))
    if pressure_GPa is not None:
        if not np.isfinite(pressure_GPa):
            raise ValueError(f"pressure_GPa must be finite, got {pressure_GPa}")
        check_positive("barostat_tau_fs", barostat_tau_fs)
        if thermostat != "langevin":
            raise ValueError("NPT (pressure_GPa) runs with the Langevin thermostat")
        if not periodic:
            raise ValueError("NPT (pressure_GPa) needs a structure periodic along all three axes")
    velocity_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2)
    )
    thermalize(atoms, temperature_K, velocity_rng)
    dt = dt_fs * units.fs
    if pressure_GPa is not None:
        dyn = LangevinBAOAB(
            atoms, dt, temperature_K=temperature_K, externalstress=-pressure_GPa * units.GPa,
            T_tau=units.fs / friction, P_tau=barostat_tau_fs * units.fs, rng=noise_rng,
        )  # fmt: skip
    elif thermostat == "langevin":
        dyn = Langevin(atoms, dt, temperature_K=temperature_K, friction=friction / units.fs,
                       rng=noise_rng)  # fmt: skip
    else:
        dyn = VelocityVerlet(atoms, dt)
    open(trajectory, "w").close()
    log_fh = open(log, "w", encoding="utf-8") if log else None
    if log_fh is not None:
        header = LOG_HEADER.rstrip("\n") + (PERIODIC_COLUMNS if periodic else "") + "\n"
        log_fh.write(header)
    n, start, t0 = len(atoms), atoms.get_total_energy(), time.perf_counter()
    report_every = max(every, steps // 20 // every * every)
    last: dict = {}

    def record() -> None:
        step = dyn.nsteps
        epot, etot = atoms.get_potential_energy(), atoms.get_total_energy()
        temp, drift = atoms.get_temperature(), (etot - start) / n * 1000.0
        append_frame(trajectory, atoms, epot, atoms.get_forces(), {"step": step})
        last.update(frames=last.get("frames", 0) + 1, temp=temp, epot=epot, drift=drift)
        if log_fh is not None:
            row = f"{step},{step * dt_fs:.3f},{temp:.2f},{epot:.6f},{etot:.6f},{drift:.4f}"
            if periodic:
                stress = atoms.get_stress(include_ideal_gas=True)  # eV/Å^3, Voigt
                pressure = -float(stress[:3].mean()) / units.GPa
                row += f",{atoms.get_volume():.4f},{pressure:.5f}"
            log_fh.write(row + "\n")
            log_fh.flush()
        if progress is not None and (step % report_every == 0 or step == steps):
            progress(progress_line(step, steps, dt_fs, temp, epot, drift,
                                   time.perf_counter() - t0))  # fmt: skip

    try:
        dyn.attach(record, interval=every)
        dyn.run(steps)
    finally:
        if log_fh is not None:
            log_fh.close()
    return MDResult(steps=steps, frames=last["frames"], temperature_K=last["temp"],
                    epot_eV=last["epot"], drift_meV_per_atom=last["drift"],
                    seconds=time.perf_counter() - t0)  # fmt: skip
