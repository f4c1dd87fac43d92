"""Periodic neighbour lists against ASE's: ``python -m benchmarks neighbours``.

::

    python -m benchmarks neighbours [--sizes 1000 3000 10000 30000 100000] [--cutoff 5.0] \\
        [--density 0.085] [--skew 0.3] [--repeats 3] [--threads 1] [--no-ase]

Random points at ``--density`` atoms/Å^3 (0.085: fcc copper) in a triclinic cell (off-diagonal
lattice components up to ``--skew`` of the cell's side), periodic along all three axes.
:func:`regconv.graph.periodic_radius_graph` (float64) and ASE's ``neighbor_list("ijS")`` on the
same points: the median of ``--repeats`` wall times each, microseconds per atom, and the number
of edges (which must agree; the run stops otherwise). One JSON line per size; the exponent of a
least-squares fit of log time against log size closes the run.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from functools import partial

import numpy as np
import torch

from regconv.bench import cpu_sampler, machine_info

__all__ = ["main"]


def _system(n: int, density: float, skew: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    side = (n / density) ** (1.0 / 3.0)
    cell = np.diag([side, side, side])
    cell[1, 0], cell[2, 0], cell[2, 1] = rng.uniform(-skew, skew, 3) * side
    return rng.random((n, 3)) @ cell, cell


def _time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _slope(sizes: list[int], times: list[float]) -> float:
    x, y = np.log(sizes), np.log(times)
    return float(np.polyfit(x, y, 1)[0])


def main(argv: list[str] | None = None) -> int:
    """Measure; the exit code (1: the edge counts disagree)."""
    from ase.neighborlist import neighbor_list

    import ase
    from regconv.graph import periodic_radius_graph

    p = argparse.ArgumentParser(prog="python -m benchmarks neighbours", description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000, 30000, 100000])
    p.add_argument("--cutoff", type=float, default=5.0)
    p.add_argument("--density", type=float, default=0.085)
    p.add_argument("--skew", type=float, default=0.3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-ase", action="store_true", help="time regconv's list only")
    args = p.parse_args(argv)
    if any(n < 1 for n in args.sizes) or args.repeats < 1 or not args.cutoff > 0:
        p.error("--sizes and --repeats must be >= 1 and --cutoff > 0")
    torch.set_num_threads(args.threads)
    ours_t, ase_t = [], []
    for n in args.sizes:
        pos, cell = _system(n, args.density, args.skew, seed=n)
        ours = partial(periodic_radius_graph, torch.tensor(pos), args.cutoff, torch.tensor(cell),
                       torch.tensor([True, True, True]))  # fmt: skip
        with cpu_sampler() as load:
            t_ours, (ei, _) = _time(ours, args.repeats)
            rec = {"bench": "neighbours", "atoms": n, "cutoff": args.cutoff,
                   "edges": int(ei.shape[1]), "regconv_s": round(t_ours, 4),
                   "regconv_us_per_atom": round(1e6 * t_ours / n, 2)}  # fmt: skip
            if not args.no_ase:
                atoms = ase.Atoms(numbers=[29] * n, positions=pos, cell=cell, pbc=True)
                t_ase, (i, _, _) = _time(partial(neighbor_list, "ijS", atoms, args.cutoff),
                                         args.repeats)  # fmt: skip
                rec.update({"ase_s": round(t_ase, 4),
                            "ase_us_per_atom": round(1e6 * t_ase / n, 2),
                            "ase_edges": int(len(i)),
                            "speedup": round(t_ase / t_ours, 2)})  # fmt: skip
                ase_t.append(t_ase)
        ours_t.append(t_ours)
        print(json.dumps({**rec, "load": load, "machine": machine_info()}), flush=True)
        if "ase_edges" in rec and rec["ase_edges"] != rec["edges"]:
            print(f"edge counts differ at {n} atoms", file=sys.stderr, flush=True)
            return 1
    if len(set(args.sizes)) > 1:
        fit = {"bench": "neighbours_scaling",
               "regconv_exponent": round(_slope(args.sizes, ours_t), 3)}  # fmt: skip
        if ase_t:
            fit["ase_exponent"] = round(_slope(args.sizes, ase_t), 3)
        print(json.dumps(fit), flush=True)
    return 0 if math.isfinite(sum(ours_t)) else 1
