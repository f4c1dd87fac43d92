"""``regconv md-check nve|stability``: energy conservation and stability of molecular dynamics
with a trained energy + force model (:func:`regconv.md.nve_drift`, :func:`regconv.md.stability`).

::

    regconv md-check nve --ckpt C.ckpt --input start.xyz --temperatures 300 500 --ps 10 \\
        [--dt 0.5] [--dtype float32] [--out DIR]
    regconv md-check stability --ckpt C.ckpt --input start.xyz --runs 10 --ps 5 \\
        --temperature 500 [--friction 0.01] [--escape 10] [--collapse 0.5] [--out DIR]

``nve``: one velocity-Verlet run per start temperature, side by side; per run the drift of the
total energy (meV/atom/ps), its largest excursion (meV/atom) and the mean temperature; the
traces in ``nve-<T>K.csv`` and a plot of temperature and total energy against time
(``nve.png``).

``stability``: ``--runs`` Langevin runs side by side; a run stays physical while no bond
stretches beyond twice its starting length, no pair of atoms comes closer than ``--collapse``
times the sum of its covalent radii, no atom is further than ``--escape`` Å from the centre of
mass, and positions, energy and forces stay finite. The state is saved every ``--save-every``
steps (``<out>/stability-state.npz``); a rerun resumes it.

One JSON line per run on standard output (the ``nve`` lines and the ``stability`` summary with
the machine's facts, :func:`regconv.bench.emit`), also appended to ``<out>/results.jsonl``;
the other files are written atomically. Usage errors exit 2, bad input (checkpoint, molecule,
a state of other settings) exits 1 with a message.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from regconv.cli.model_options import add_model_options, parsed_model_options
from regconv.utils.checks import check_int, check_positive

if TYPE_CHECKING:
    from regconv.md import ForceField

__all__ = ["build_parser", "run_md_check"]


def build_parser(prog: str = "regconv md-check") -> argparse.ArgumentParser:
    """The options of ``regconv md-check``."""
    p = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="check", required=True)
    for name in ("nve", "stability"):
        s = sub.add_parser(name)
        s.add_argument("--ckpt", required=True, help="checkpoint of an energy + force run")
        s.add_argument("--input", required=True, help="start geometry: .xyz / .extxyz or ASE .db")
        s.add_argument("--ps", type=float, required=True, help="simulated picoseconds per run")
        s.add_argument("--dt", type=float, default=0.5, help="time step (fs)")
        s.add_argument("--every", type=int, default=10, help="steps between records / checks")
        s.add_argument("--dtype", default="float32", choices=("float32", "float64"))
        s.add_argument("--device", default="cpu", help="torch device")
        s.add_argument("--out", type=Path, default=Path("runs/md_checks"))
        s.add_argument("--threads", type=int, default=None, help="torch threads")
        add_model_options(s)
        if name == "nve":
            s.add_argument("--temperatures", type=float, nargs="+", default=[300.0, 500.0])
            s.add_argument("--seed", type=int, default=0, help="seed of the velocities")
        else:
            s.add_argument("--runs", type=int, default=10)
            s.add_argument("--temperature", type=float, default=500.0)
            s.add_argument("--friction", type=float, default=0.01, help="1/fs")
            s.add_argument("--escape", type=float, default=10.0, help="Å from the centre")
            s.add_argument("--collapse", type=float, default=0.5,
                           help="closest approach, times the sum of covalent radii")  # fmt: skip
            s.add_argument("--save-every", type=int, default=500, help="steps between saves")
    return p


def run_md_check(
    argv: list[str],
    *,
    load_forces: Callable[..., ForceField] | None = None,
    prog: str = "regconv md-check",
) -> int:
    """``regconv md-check ...``; returns the exit code. ``load_forces(path, device=...,
    dtype=...)`` loads the ``--ckpt`` model as a force field (default
    :meth:`regconv.md.RegconvForces.from_checkpoint`; a harness passes another model's)."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        check_positive("--ps", args.ps)
        check_positive("--dt", args.dt)
        check_int("--every", args.every, minimum=1)
        if args.threads is not None:
            check_int("--threads", args.threads, minimum=1)
        if args.check == "stability":
            check_int("--runs", args.runs, minimum=1)
            check_int("--save-every", args.save_every, minimum=1)
    except ValueError as e:
        parser.error(str(e))
    model_options = parsed_model_options(parser, args.model_options)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from regconv.md import RegconvForces, read_one_molecule

    try:
        atoms = read_one_molecule(args.input)
        if atoms.pbc.any():
            raise ValueError(
                f"{args.input}: a periodic structure; md-check measures molecules (escaped atoms "
                "from the centre of mass, bonds by plain distances): run regconv md instead"
            )
        load = load_forces or RegconvForces.from_checkpoint
        kwargs = {"model_options": model_options} if model_options else {}
        forces = load(args.ckpt, device=args.device, dtype=args.dtype, **kwargs)
        args.out.mkdir(parents=True, exist_ok=True)
        _nve(args, forces, atoms) if args.check == "nve" else _stability(args, forces, atoms)
    except ValueError as e:
        print(f"{prog}: error: {e}", file=sys.stderr, flush=True)
        return 1
    return 0


def _emit(rec: dict, out: Path, *, machine: bool = True) -> None:
    """Print one JSON line (with the machine's facts: :func:`regconv.bench.emit`; without them
    for ``machine=False``) and append it to ``<out>/results.jsonl`` (one flushed write)."""
    from regconv.bench import emit

    if machine:
        rec = emit(rec)
    else:
        print(json.dumps(rec, default=str), flush=True)
    with open(out / "results.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, default=str) + "\n")


def _nve(args, forces, atoms) -> None:
    import numpy as np

    from regconv.md import nve_drift
    from regconv.utils.io import atomic_write

    runs = nve_drift(forces, atoms, temperatures_K=args.temperatures, ps=args.ps, dt_fs=args.dt,
                     every=args.every, seed=args.seed)  # fmt: skip
    for run in runs:
        with atomic_write(args.out / f"nve-{run.start_temperature_K:g}K.csv", "w") as fh:
            np.savetxt(fh, run.trace, delimiter=",", comments="",
                       header="t_ps,temperature_K,epot_eV,etot_eV")  # fmt: skip
        rec = {"check": "nve", "model": args.ckpt, **run.record(), "ps": args.ps,
               "dtype": args.dtype}  # fmt: skip
        _emit(rec, args.out)
    _plot(runs, len(atoms), args.out / "nve.png", args.ckpt)


def _plot(runs, n_atoms: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from regconv.utils.io import atomic_write

    fig, (ax_t, ax_e) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for run in runs:
        tr = run.trace
        ax_t.plot(tr[:, 0], tr[:, 1], lw=0.6, label=f"start {run.start_temperature_K:g} K")
        ax_e.plot(tr[:, 0], 1000.0 * (tr[:, 3] - tr[0, 3]) / n_atoms, lw=0.6)
    ax_t.set_ylabel("temperature (K)")
    ax_t.legend()
    ax_e.set_ylabel("E_tot − E_tot(0) (meV/atom)")
    ax_e.set_xlabel("time (ps)")
    ax_t.set_title(f"NVE, velocity Verlet: {Path(title).name}", fontsize=9)
    fig.tight_layout()
    with atomic_write(path, "wb") as fh:
        fig.savefig(fh, dpi=120, format="png")
    plt.close(fig)


def _stability(args, forces, atoms) -> None:
    from regconv.md import stability

    result = stability(
        forces, atoms, ps=args.ps, runs=args.runs, temperature_K=args.temperature,
        dt_fs=args.dt, friction_per_fs=args.friction, every=args.every, escape=args.escape,
        collapse=args.collapse, state_path=args.out / "stability-state.npz",
        save_every=args.save_every,
        resume_key={"ckpt": str(args.ckpt), "dtype": args.dtype},
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )  # fmt: skip
    for run in result.runs:
        rec = {"check": "stability", "model": args.ckpt, "seed": run.seed,
               "temperature_K": result.temperature_K, "ps": result.ps, "dt_fs": result.dt_fs,
               "physical": run.physical, "left_at_ps": run.left_at_ps,
               "reason": run.reason}  # fmt: skip
        _emit(rec, args.out, machine=False)
    summary = {
        "check": "stability_summary",
        "model": args.ckpt,
        "runs": len(result.runs),
        "physical_fraction": result.physical_fraction,
        "integrator": "BAOAB Langevin, replicas side by side",
        "friction_per_fs": result.friction_per_fs,
        "steps_per_s_since_start_or_resume": result.steps_per_s,
        "threads": args.threads,
    }
    _emit(summary, args.out)
