"""Energy conservation and stability of molecular dynamics with a trained model (ASE).

::

    python -m regconv.bench.md_checks nve --ckpt C.ckpt --input start.xyz \\
        --temperatures 300 500 --ps 10 [--dt 0.5] [--dtype float32] [--out DIR]
    python -m regconv.bench.md_checks stability --ckpt C.ckpt --input start.xyz \\
        --runs 10 --ps 5 --temperature 500 [--friction 0.01] [--out DIR]
    (``--mace-model M.model`` instead of ``--ckpt``: MACE's own ``MACECalculator``)

``nve``: velocities drawn at each temperature (seeded; no net momentum or rotation), then
velocity Verlet at ``--dt`` fs for ``--ps`` ps. Reported per run: the drift of the total energy
(slope of a least-squares line through ``E_tot(t)``, meV/atom/ps), its largest excursion from
the start (meV/atom), the mean temperature; traces in ``nve-<T>K.csv`` and a plot of the
temperature and the total energy against time (``nve.png``).

``stability``: ``--runs`` Langevin runs at ``--temperature`` (seeds 0, 1, ...) of ``--ps`` ps,
integrated side by side (BAOAB, :mod:`regconv.bench.md_replicas`: one model call per step for
all replicas; the state is saved every ``--save-every`` steps and a rerun resumes it).
A run stays physical while no bond (pairs closer than 1.2 times the sum of covalent radii at
the start) is stretched beyond twice its starting length, no atom is further than
``--escape`` Å (default 10) from the molecule's centre of mass, and its positions and forces
stay finite; a run that leaves stops there. Reported: the fraction of runs that stayed
physical and, per run, when it left.

One JSON line per run on standard output (and ``<out>/results.jsonl``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["bonds_of", "energy_drift", "main", "physical"]


def bonds_of(numbers: np.ndarray, pos: np.ndarray, factor: float = 1.2) -> np.ndarray:
    """``[K, 3]`` rows ``(i, j, d0)``: pairs closer than ``factor`` times the sum of covalent
    radii (ASE's table), with their distance."""
    from ase.data import covalent_radii

    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    r = covalent_radii[numbers]
    i, j = np.nonzero(np.triu(d < factor * (r[:, None] + r[None]), 1))
    return np.stack([i, j, d[i, j]], axis=1)


def physical(pos: np.ndarray, masses: np.ndarray, bonds: np.ndarray, escape: float) -> bool:
    """No bond beyond twice its starting length and no atom beyond ``escape`` Å of the centre
    of mass."""
    i, j = bonds[:, 0].astype(int), bonds[:, 1].astype(int)
    stretched = np.linalg.norm(pos[i] - pos[j], axis=-1) > 2.0 * bonds[:, 2]
    com = (masses[:, None] * pos).sum(0) / masses.sum()
    return not stretched.any() and bool(np.linalg.norm(pos - com, axis=-1).max() <= escape)


def energy_drift(t_ps: np.ndarray, e_tot: np.ndarray, n_atoms: int) -> dict[str, float]:
    """Slope of the least-squares line through the total energy (eV) against time (ps), in
    meV/atom/ps, and the largest excursion from the start in meV/atom."""
    slope = np.polyfit(t_ps, e_tot, 1)[0] if len(t_ps) > 1 else 0.0
    return {
        "drift_meV_per_atom_ps": 1000.0 * float(slope) / n_atoms,
        "max_excursion_meV_per_atom": 1000.0 * float(np.abs(e_tot - e_tot[0]).max()) / n_atoms,
    }


def _calculator(args):
    if args.mace_model:
        from mace.calculators import MACECalculator

        return MACECalculator(model_paths=args.mace_model, device="cpu", default_dtype=args.dtype)
    from regconv.ase import RegconvCalculator

    return RegconvCalculator(args.ckpt, dtype=args.dtype)


def _start(args, seed: int, temperature: float, attach: bool = True):
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    from regconv.cli.structures import read_one_molecule

    atoms = read_one_molecule(args.input)
    if attach:
        atoms.calc = _calculator(args)
    thermalize_momenta(atoms, temperature_K=temperature, rng=np.random.default_rng(seed))
    Stationary(atoms)
    ZeroRotation(atoms)
    return atoms


def _emit(rec: dict, out: Path) -> None:
    line = json.dumps(rec, default=str)
    print(line, flush=True)
    with open(out / "results.jsonl", "a") as fh:
        fh.write(line + "\n")


def run_nve(args) -> list[dict]:
    from ase.md.verlet import VelocityVerlet

    from ase import units
    from regconv.bench import machine_info

    steps = round(args.ps * 1000.0 / args.dt)
    records, traces = [], {}
    for temperature in args.temperatures:
        atoms = _start(args, args.seed, temperature)
        dyn = VelocityVerlet(atoms, args.dt * units.fs)
        rows = []

        def record(atoms=atoms, dyn=dyn, rows=rows):
            rows.append((dyn.nsteps * args.dt / 1000.0, atoms.get_temperature(),
                         atoms.get_potential_energy(), atoms.get_total_energy()))  # fmt: skip

        dyn.attach(record, interval=args.every)
        t0 = time.perf_counter()
        dyn.run(steps)
        wall = time.perf_counter() - t0
        trace = np.array(rows)  # [R, 4]: t (ps), T (K), E_pot, E_tot (eV)
        np.savetxt(args.out / f"nve-{temperature:g}K.csv", trace, delimiter=",",
                   header="t_ps,temperature_K,epot_eV,etot_eV", comments="")  # fmt: skip
        traces[temperature] = trace
        rec = {
            "check": "nve",
            "model": args.mace_model or args.ckpt,
            "start_temperature_K": temperature,
            "steps": steps,
            "dt_fs": args.dt,
            "ps": args.ps,
            "dtype": args.dtype,
            **energy_drift(trace[:, 0], trace[:, 3], len(atoms)),
            "mean_temperature_K": float(trace[:, 1].mean()),
            "steps_per_s": steps / wall,
            "machine": machine_info(),
        }
        _emit(rec, args.out)
        records.append(rec)
    _plot(traces, len(atoms), args.out / "nve.png", args.mace_model or args.ckpt)
    return records


def _plot(traces: dict, n_atoms: int, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_e) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for temperature, tr in traces.items():
        ax_t.plot(tr[:, 0], tr[:, 1], lw=0.6, label=f"start {temperature:g} K")
        ax_e.plot(tr[:, 0], 1000.0 * (tr[:, 3] - tr[0, 3]) / n_atoms, lw=0.6)
    ax_t.set_ylabel("temperature (K)")
    ax_t.legend()
    ax_e.set_ylabel("E_tot − E_tot(0) (meV/atom)")
    ax_e.set_xlabel("time (ps)")
    ax_t.set_title(f"NVE, velocity Verlet: {Path(title).name}", fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def _replica_forces(args, numbers):
    from regconv.bench.replica_forces import MaceForces, RegconvForces

    if args.mace_model:
        return MaceForces(args.mace_model, numbers, dtype=args.dtype)
    return RegconvForces(args.ckpt, numbers, dtype=args.dtype)


def _save_state(path: Path, settings: dict, state: dict, left_at: list) -> None:
    from regconv.utils.io import atomic_write

    meta = {"settings": settings, "rng_states": state["rng_states"], "nsteps": state["nsteps"],
            "left_at_ps": left_at, "nonfinite": state["nonfinite"]}  # fmt: skip
    with atomic_write(path, "wb") as fh:
        np.savez(fh, pos=state["pos"], vel=state["vel"], forces=state["forces"],
                 active=state["active"], meta=np.array(json.dumps(meta)))  # fmt: skip


def _load_state(path: Path, settings: dict) -> tuple[dict, list] | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in ("pos", "vel", "forces", "active")}
    except Exception as e:  # a file that is not a saved state
        raise ValueError(f"{path}: not a readable stability state ({type(e).__name__}: {e})") from e
    if meta["settings"] != settings:
        raise ValueError(
            f"{path}: a stability run of other settings ({meta['settings']}); use another "
            "--out or delete the file"
        )
    # JSON keys are strings; states saved before non-finite bookkeeping have none
    nonfinite = {int(r): int(k) for r, k in meta.get("nonfinite", {}).items()}
    arrays.update(rng_states=meta["rng_states"], nsteps=meta["nsteps"], nonfinite=nonfinite)
    return arrays, meta["left_at_ps"]


def run_stability(args) -> list[dict]:
    """All ``--runs`` replicas side by side (:class:`regconv.bench.md_replicas.ReplicaLangevin`,
    BAOAB, one model call per step); resumes from ``<out>/stability-state.npz``."""
    from regconv.bench import machine_info
    from regconv.bench.md_replicas import ReplicaLangevin

    steps = round(args.ps * 1000.0 / args.dt)
    starts = [_start(args, seed, args.temperature, attach=False) for seed in range(args.runs)]
    atoms = starts[0]
    bonds = bonds_of(atoms.numbers, atoms.positions)
    masses = atoms.get_masses()
    settings = {k: getattr(args, k) for k in ("ckpt", "mace_model", "input", "runs", "ps", "dt",
                "temperature", "friction", "escape", "dtype", "every")}  # fmt: skip
    settings["input"] = str(settings["input"])
    dyn = ReplicaLangevin(
        _replica_forces(args, atoms.numbers),
        np.stack([a.positions for a in starts]), np.stack([a.get_velocities() for a in starts]),
        masses, dt_fs=args.dt, temperature_K=args.temperature, friction_per_fs=args.friction,
        seeds=[10_000 + seed for seed in range(args.runs)],
    )  # fmt: skip
    state_path = args.out / "stability-state.npz"
    left_at: list = [None] * args.runs
    resumed = _load_state(state_path, settings)
    if resumed is not None:
        dyn.load_state_dict(resumed[0])
        left_at = resumed[1]
        print(f"resuming at step {dyn.nsteps} of {steps}", file=sys.stderr, flush=True)
    start_step, t0 = dyn.nsteps, time.perf_counter()
    while dyn.nsteps < steps and dyn.active.any():
        dyn.step(min(args.every, steps - dyn.nsteps))
        for r, k in dyn.nonfinite.items():  # positions or forces stopped being finite
            if left_at[r] is None:
                left_at[r] = k * args.dt / 1000.0
        for r in np.flatnonzero(dyn.active):
            if not physical(dyn.pos[r], masses, bonds, args.escape):
                left_at[r] = dyn.nsteps * args.dt / 1000.0
                dyn.finish(r)
        last = dyn.nsteps >= steps or not dyn.active.any()
        if dyn.nsteps % args.save_every < args.every or last:
            _save_state(state_path, settings, dyn.state_dict(), left_at)
            rate = (dyn.nsteps - start_step) / (time.perf_counter() - t0)
            print(f"step {dyn.nsteps}/{steps}  running {int(dyn.active.sum())}/{args.runs}  "
                  f"{rate:.1f} steps/s", file=sys.stderr, flush=True)  # fmt: skip
    wall = time.perf_counter() - t0
    records = []
    for seed in range(args.runs):
        rec = {
            "check": "stability",
            "model": args.mace_model or args.ckpt,
            "seed": seed,
            "temperature_K": args.temperature,
            "ps": args.ps,
            "dt_fs": args.dt,
            "physical": left_at[seed] is None,
            "left_at_ps": left_at[seed],
        }
        _emit(rec, args.out)
        records.append(rec)
    summary = {
        "check": "stability_summary",
        "model": args.mace_model or args.ckpt,
        "runs": args.runs,
        "physical_fraction": sum(r["physical"] for r in records) / args.runs,
        "integrator": "BAOAB Langevin, replicas side by side",
        "friction_per_fs": args.friction,
        "steps_per_s_since_start_or_resume": (dyn.nsteps - start_step) / wall if wall > 0 else None,
        "threads": args.threads,
        "machine": machine_info(),
    }
    _emit(summary, args.out)
    return records


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m regconv.bench.md_checks", description=__doc__)
    sub = p.add_subparsers(dest="check", required=True)
    for name in ("nve", "stability"):
        s = sub.add_parser(name)
        model = s.add_mutually_exclusive_group(required=True)
        model.add_argument("--ckpt", help="regconv energy + force checkpoint")
        model.add_argument("--mace-model", help="a MACE .model file (mace-torch)")
        s.add_argument("--input", required=True, help="start geometry (.xyz)")
        s.add_argument("--ps", type=float, required=True, help="simulated picoseconds per run")
        s.add_argument("--dt", type=float, default=0.5, help="time step (fs)")
        s.add_argument("--every", type=int, default=10, help="steps between records / checks")
        s.add_argument("--dtype", default="float32", choices=("float32", "float64"))
        s.add_argument("--out", type=Path, default=Path("runs/md_checks"))
        s.add_argument("--threads", type=int, default=None, help="torch threads")
        if name == "nve":
            s.add_argument("--temperatures", type=float, nargs="+", default=[300.0, 500.0])
            s.add_argument("--seed", type=int, default=0)
        else:
            s.add_argument("--runs", type=int, default=10)
            s.add_argument("--temperature", type=float, default=500.0)
            s.add_argument("--friction", type=float, default=0.01, help="1/fs")
            s.add_argument("--escape", type=float, default=10.0, help="Å from the centre")
            s.add_argument("--save-every", type=int, default=500, help="steps between saves")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not (args.ps > 0 and args.dt > 0 and args.every >= 1):
        print("md_checks: need --ps > 0, --dt > 0, --every >= 1", file=sys.stderr)
        return 2
    if args.check == "stability" and not (args.runs >= 1 and args.save_every >= 1):
        print("md_checks: need --runs >= 1 and --save-every >= 1", file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        run_nve(args) if args.check == "nve" else run_stability(args)
    except ValueError as e:
        print(f"md_checks: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
