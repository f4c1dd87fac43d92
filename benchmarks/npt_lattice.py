r"""Lattice constant and thermal expansion of fcc copper from NPT molecular dynamics: learned
potentials against the reference potential (ASE's EMT, the surface the copper set comes from).

::

    python -m benchmarks npt-lattice --ckpt runs/cu/ckpt/r3s2.ckpt runs/cu/ckpt/r3.ckpt \\
        --temperatures 300 900 --ps 10 --repeat 3 --threads 1 --out runs/npt-lattice.jsonl

Each potential runs ``regconv md``'s NPT (:func:`regconv.md.molecular_dynamics` with
``pressure_GPa=0``: ASE's ``LangevinBAOAB``, Langevin atoms with friction 0.01 / fs and a fully
flexible cell, cell time constant ``--barostat-tau`` fs) on the ``--repeat``³ conventional cell
(108 atoms for 3) from the perfect lattice at 3.6 Å, time step 2 fs, the same seed for every
potential. The lattice constant is :math:`a = (V / \text{repeat}^3)^{1/3}` averaged over the
second half of the run (the first half equilibrates); its standard error comes from 10 blocks.
The mean linear thermal expansion between the lowest and the highest temperature is
:math:`\alpha = (a_2 - a_1) / (a_1 (T_2 - T_1))`. One JSON line per potential and temperature,
then one per potential with ``alpha``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["lattice_constant", "main"]


def lattice_constant(calc, temperature: float, *, ps: float, repeat: int, barostat_tau: float,
                     seed: int, tmp: Path) -> dict:  # fmt: skip
    """NPT at 0 GPa and ``temperature`` K with ``calc``: the mean lattice constant of the second
    half, its block standard error, the mean pressure there and the speed."""
    from regconv.data.crystals import copper_cell
    from regconv.md import molecular_dynamics

    atoms = copper_cell(repeat)
    atoms.calc = calc
    steps = int(round(ps * 1000 / 2.0))
    log = tmp / f"npt-{temperature:g}.csv"
    t0 = time.perf_counter()
    molecular_dynamics(atoms, steps=steps, trajectory=tmp / "npt.xyz", log=log, dt_fs=2.0,
                       temperature_K=temperature, friction_per_fs=0.01, every=10, seed=seed,
                       pressure_GPa=0.0, barostat_tau_fs=barostat_tau)  # fmt: skip
    seconds = time.perf_counter() - t0
    rows = np.loadtxt(log, delimiter=",", skiprows=1)
    step, temp, volume, pressure = rows[:, 0], rows[:, 2], rows[:, 6], rows[:, 7]
    late = step >= steps / 2
    a = (volume[late] / repeat**3) ** (1.0 / 3.0)
    blocks = np.array_split(a, 10)
    block_means = np.array([b.mean() for b in blocks if b.size])
    return {
        "temperature_K": temperature,
        "a_A": round(float(a.mean()), 5),
        "a_stderr_A": round(float(block_means.std(ddof=1) / np.sqrt(block_means.size)), 5),
        "mean_T_K": round(float(temp[late].mean()), 1),
        "mean_pressure_GPa": round(float(pressure[late].mean()), 4),
        "steps": steps,
        "ps": ps,
        "seconds": round(seconds, 1),
        "steps_per_s": round(steps / seconds, 2),
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks npt-lattice", description=__doc__)
    p.add_argument("--ckpt", nargs="*", default=[], help="trained regconv checkpoints")
    p.add_argument("--temperatures", nargs="+", type=float, default=[300.0, 900.0])
    p.add_argument("--ps", type=float, default=10.0, help="picoseconds per run")
    p.add_argument("--repeat", type=int, default=3, help="conventional cells per axis")
    p.add_argument("--barostat-tau", type=float, default=1000.0, help="fs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-reference", action="store_true", help="skip the EMT runs")
    p.add_argument("--out", default=None, help="append the JSON lines to this file too")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.ps <= 0 or args.repeat < 1 or args.threads < 1 or len(args.temperatures) < 1:
        raise SystemExit("need --ps > 0, --repeat >= 1, --threads >= 1 and a temperature")
    import torch

    from ase.calculators.emt import EMT
    from regconv.ase import RegconvCalculator
    from regconv.bench import machine_info

    torch.set_num_threads(args.threads)
    potentials = [] if args.no_reference else [("EMT (reference)", EMT)]
    for ckpt in args.ckpt:
        potentials.append((ckpt, lambda c=ckpt: RegconvCalculator(c, dtype="float32")))
    head = {"benchmark": "npt-lattice", "repeat": args.repeat, "atoms": 4 * args.repeat**3,
            "barostat_tau_fs": args.barostat_tau, "seed": args.seed, "threads": args.threads,
            **machine_info()}  # fmt: skip
    for label, make in potentials:
        results = []
        for temperature in sorted(args.temperatures):
            with tempfile.TemporaryDirectory() as tmp:
                rec = lattice_constant(make(), temperature, ps=args.ps, repeat=args.repeat,
                                       barostat_tau=args.barostat_tau, seed=args.seed,
                                       tmp=Path(tmp))  # fmt: skip
            results.append(rec)
            _emit({**head, "potential": label, **rec}, args.out)
        if len(results) >= 2:
            lo, hi = results[0], results[-1]
            alpha = (hi["a_A"] - lo["a_A"]) / (lo["a_A"] * (hi["temperature_K"] - lo["temperature_K"]))
            _emit({**head, "potential": label, "alpha_per_K": float(f"{alpha:.4g}"),
                   "between_K": [lo["temperature_K"], hi["temperature_K"]]}, args.out)  # fmt: skip
    return 0


def _emit(record: dict, out: str | None) -> None:
    line = json.dumps(record)
    print(line, flush=True)
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
