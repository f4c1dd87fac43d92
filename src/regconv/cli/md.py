"""``regconv md``: molecular dynamics of one molecule with a trained energy + force model.

::

    regconv md --ckpt C --input mol.xyz --steps N --dt 0.5 --temperature 300 \\
        [--thermostat langevin|none] [--friction 0.01] --output traj.xyz --log md.csv

Velocities are drawn from the Maxwell-Boltzmann distribution at ``--temperature`` (seeded,
without centre-of-mass motion or rotation); ``--thermostat none`` is NVE (velocity Verlet).
Every ``--every`` steps a frame (extended XYZ with energy and forces) and a log row (step, time,
temperature, potential, total energy and its drift per atom) are appended and flushed, so a
killed run leaves valid partial files. Bad input exits 1 with a message and writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

from regconv.utils.checks import check_int, check_positive

__all__ = ["build_parser", "run_md"]

LOG_HEADER = "step,time_fs,temperature_K,epot_eV,etot_eV,drift_meV_per_atom\n"


def build_parser() -> argparse.ArgumentParser:
    """The options of ``regconv md``."""
    p = argparse.ArgumentParser(prog="regconv md", description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", required=True, help="checkpoint of an energy + force run")
    p.add_argument("--input", required=True, help="one molecule: .xyz / .extxyz or ASE .db")
    p.add_argument("--steps", type=int, required=True, help="MD steps")
    p.add_argument("--dt", type=float, default=0.5, help="time step in fs (0.5)")
    p.add_argument("--temperature", type=float, default=300.0, help="K: velocities, thermostat")
    p.add_argument("--thermostat", choices=("langevin", "none"), default="langevin")
    p.add_argument("--friction", type=float, default=0.01, help="Langevin friction in 1/fs")
    p.add_argument("--output", required=True, help="trajectory, extended XYZ")
    p.add_argument("--log", default=None, help="CSV log (default: none)")
    p.add_argument("--every", type=int, default=10, help="steps between frames and log rows")
    p.add_argument("--seed", type=int, default=0, help="seed of the velocities and the noise")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--device", default="cpu", help="torch device")
    return p


def run_md(argv: list[str]) -> int:
    """``regconv md ...``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_int("--steps", args.steps, minimum=1)
        check_int("--every", args.every, minimum=1)
        check_positive("--dt", args.dt)
        check_positive("--temperature", args.temperature)
        check_positive("--friction", args.friction)
    except ValueError as e:
        parser.error(str(e))
    try:
        atoms, calc = _prepare(args)
    except ValueError as e:  # nothing written yet
        print(f"regconv md: error: {e}", file=sys.stderr, flush=True)
        return 1
    _run(args, atoms, calc)
    return 0


def _prepare(args):
    from regconv.ase import RegconvCalculator
    from regconv.cli.structures import read_one_molecule

    atoms = read_one_molecule(args.input)
    calc = RegconvCalculator(args.ckpt, device=args.device, dtype=args.dtype)
    atoms.calc = calc
    atoms.get_potential_energy()  # unknown elements and the like fail here, before any file
    return atoms, calc


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


def _run(args, atoms, calc) -> None:
    import numpy as np
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    from ase import units
    from regconv.cli.structures import append_frame

    seeds = np.random.SeedSequence(args.seed).spawn(2)
    velocity_rng, noise_rng = (np.random.default_rng(s) for s in seeds)
    thermalize_momenta(atoms, temperature_K=args.temperature, rng=velocity_rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    dt = args.dt * units.fs
    if args.thermostat == "langevin":
        dyn = Langevin(atoms, dt, temperature_K=args.temperature,
                       friction=args.friction / units.fs, rng=noise_rng)  # fmt: skip
    else:
        dyn = VelocityVerlet(atoms, dt)
    open(args.output, "w").close()
    log = open(args.log, "w", encoding="utf-8") if args.log else None
    if log is not None:
        log.write(LOG_HEADER)
    n, start, t0 = len(atoms), atoms.get_total_energy(), time.perf_counter()
    report_every = max(args.every, args.steps // 20 // args.every * args.every)

    def record() -> None:
        step = dyn.nsteps
        epot, etot = atoms.get_potential_energy(), atoms.get_total_energy()
        temp, drift = atoms.get_temperature(), (etot - start) / n * 1000.0
        append_frame(args.output, atoms, epot, atoms.get_forces(), {"step": step})
        if log is not None:
            row = f"{step},{step * args.dt:.3f},{temp:.2f},{epot:.6f},{etot:.6f},{drift:.4f}"
            log.write(row + "\n")
            log.flush()
        if step % report_every == 0 or step == args.steps:
            print(progress_line(step, args.steps, args.dt, temp, epot, drift,
                                time.perf_counter() - t0), file=sys.stderr, flush=True)  # fmt: skip

    try:
        dyn.attach(record, interval=args.every)
        dyn.run(args.steps)
    finally:
        if log is not None:
            log.close()
    print(f"regconv md: wrote {args.output}" + (f" and {args.log}" if args.log else ""),
          file=sys.stderr, flush=True)  # fmt: skip
