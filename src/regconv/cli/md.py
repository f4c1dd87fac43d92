"""``regconv md``: molecular dynamics of one molecule with a trained energy + force model.

::

    regconv md --ckpt C --input mol.xyz --steps N --dt 0.5 --temperature 300 \\
        [--thermostat langevin|none] [--friction 0.01] --output traj.xyz --log md.csv
    regconv md --ckpt C --input cell.xyz --ensemble npt --pressure 0 --temperature 900 ...

``--ensemble`` names the ensemble: ``nvt`` (Langevin), ``nve`` (velocity Verlet; as
``--thermostat none``) or ``npt`` (a periodic input: Langevin atoms and a flexible cell at
``--pressure`` GPa, ASE's ``LangevinBAOAB``, cell time constant ``--barostat-tau`` fs).

Velocities are drawn from the Maxwell-Boltzmann distribution at ``--temperature`` (seeded,
without centre-of-mass motion or rotation); ``--thermostat none`` is NVE (velocity Verlet).
Every ``--every`` steps a frame (extended XYZ with energy and forces) and a log row (step, time,
temperature, potential, total energy and its drift per atom) are appended and flushed, so a
killed run leaves valid partial files. Bad input exits 1 with a message and writes nothing.
The run itself is :func:`regconv.md.molecular_dynamics`.
"""

from __future__ import annotations

import argparse
import sys

from regconv.cli.model_options import add_model_options, parsed_model_options
from regconv.utils.checks import check_int, check_positive

__all__ = ["build_parser", "run_md"]


def build_parser() -> argparse.ArgumentParser:
    """The options of ``regconv md``."""
    p = argparse.ArgumentParser(prog="regconv md", description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", required=True, help="checkpoint of an energy + force run")
    p.add_argument("--input", required=True, help="one molecule: .xyz / .extxyz or ASE .db")
    p.add_argument("--steps", type=int, required=True, help="MD steps")
    p.add_argument("--dt", type=float, default=0.5, help="time step in fs (0.5)")
    p.add_argument("--temperature", type=float, default=300.0, help="K: velocities, thermostat")
    p.add_argument("--thermostat", choices=("langevin", "none"), default=None,
                   help="langevin (default) or none (NVE)")  # fmt: skip
    p.add_argument("--ensemble", choices=("nvt", "nve", "npt"), default=None,
                   help="nvt (default), nve, or npt (periodic input)")  # fmt: skip
    p.add_argument("--pressure", type=float, default=None, help="GPa, for --ensemble npt (0)")
    p.add_argument("--barostat-tau", type=float, default=None,
                   help="fs, the cell's time constant under --ensemble npt (2000)")  # fmt: skip
    p.add_argument("--friction", type=float, default=0.01, help="Langevin friction in 1/fs")
    p.add_argument("--output", required=True, help="trajectory, extended XYZ")
    p.add_argument("--log", default=None, help="CSV log (default: none)")
    p.add_argument("--every", type=int, default=10, help="steps between frames and log rows")
    p.add_argument("--seed", type=int, default=0, help="seed of the velocities and the noise")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--device", default="cpu", help="torch device")
    add_model_options(p)
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
    thermostat, pressure = _ensemble(parser, args)
    model_options = parsed_model_options(parser, args.model_options)
    from regconv.ase import RegconvCalculator
    from regconv.md import molecular_dynamics, read_one_molecule

    try:  # nothing written yet
        atoms = read_one_molecule(args.input)
        atoms.calc = RegconvCalculator(args.ckpt, device=args.device, dtype=args.dtype,
                                       model_options=model_options)  # fmt: skip
        atoms.get_potential_energy()  # unknown elements and the like fail here, before any file
    except ValueError as e:
        print(f"regconv md: error: {e}", file=sys.stderr, flush=True)
        return 1
    try:
        molecular_dynamics(
            atoms, steps=args.steps, trajectory=args.output, log=args.log, dt_fs=args.dt,
            temperature_K=args.temperature, thermostat=thermostat,
            friction_per_fs=args.friction, every=args.every, seed=args.seed,
            pressure_GPa=pressure, barostat_tau_fs=args.barostat_tau or 2000.0, progress=_stderr,
        )  # fmt: skip
    except ValueError as e:  # raised before any file is written
        print(f"regconv md: error: {e}", file=sys.stderr, flush=True)
        return 1
    print(f"regconv md: wrote {args.output}" + (f" and {args.log}" if args.log else ""),
          file=sys.stderr, flush=True)  # fmt: skip
    return 0


def _ensemble(parser: argparse.ArgumentParser, args) -> tuple[str, float | None]:
    """The thermostat and the pressure (GPa, NPT; else None) of ``--ensemble``,
    ``--thermostat`` and ``--pressure``; a parser error where they disagree."""
    implied = {"langevin": "nvt", "none": "nve"}
    ensemble = args.ensemble or implied.get(args.thermostat, "nvt")
    if args.thermostat is not None and args.ensemble is not None:
        if (args.thermostat == "none") != (args.ensemble == "nve"):
            parser.error(f"--thermostat {args.thermostat} contradicts --ensemble {args.ensemble}")
    if args.pressure is not None and ensemble != "npt":
        parser.error("--pressure sets the pressure of --ensemble npt")
    if args.barostat_tau is not None and ensemble != "npt":
        parser.error("--barostat-tau sets the cell's time constant of --ensemble npt")
    thermostat = "none" if ensemble == "nve" else "langevin"
    pressure = (0.0 if args.pressure is None else args.pressure) if ensemble == "npt" else None
    return thermostat, pressure


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
