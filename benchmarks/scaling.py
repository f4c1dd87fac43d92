"""Cost against size: random point clouds at fixed density, radius graph, 100 to 100,000 points.

    python -m benchmarks scaling [--models r3s2:table.step=0.1 r3s2:table=None,max_points=30000]
        [--sizes 100 300 ... 100000]
        [--density 0.05] [--config small|ponita-radius] [--modes train infer] [--repeats 3]

Each (model, size) runs in a fresh subprocess, which builds one cloud of ``N`` points uniform
in a cube of side ``(N / density)^(1/3)`` Å (random elements H C N O F, seeded), resets its RSS
high-water mark and records its RSS as the baseline (as :mod:`regconv.bench.throughput`
does), then times ``--warmup`` + ``--repeats`` inference steps (``inference_mode``) and
training steps (forward, backward, Adam step), recording the high-water mark after each mode.
At the default density 0.05 Å^-3 a point in the bulk has ``0.05 * 4/3 pi 5^3 ~ 26`` neighbours
within 5 Å. Per size: one JSON line with the median time
per step, the peak RSS increase over the baseline, and the number of edges. Per model and mode:
one JSON line with the least-squares slope of ``log time`` (and ``log memory increase``) against
``log N`` over the sizes in ``[--fit-min, --fit-max]`` (default 1,000 to 100,000) and over all.

Configs: ``small`` (default; r3s2 hidden 32, 3 layers, 8 orientations, basis 32, degree 3,
cutoff 5 Å: fits in memory for training at 100,000 points) or ``ponita-radius`` (the PONITA-class
config with a 5 Å radius graph; training beyond ~10^4 points needs tens of GB); each model takes
the part of the config that applies to it (:func:`regconv.bench.options.applicable`), the
spec's overrides on top. A spec may carry ``max_points=N`` to skip larger sizes (e.g.
``r3s2:table=None,max_points=30000``, the exact kernel, the default's second model).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import time

import torch

from benchmarks.processes import child_env, harness_command
from regconv.bench import (
    PONITA_CONFIG,
    cpu_sampler,
    current_rss_mb,
    emit,
    peak_rss_mb,
    reset_peak_rss,
)
from regconv.bench.options import applicable, combine
from regconv.bench.specs import parse_spec

CONFIGS = {
    "small": {
        "hidden": 32,
        "layers": 3,
        "space": {"num_orientations": 8},
        "basis": {"dim": 32, "degree": 3},
        "cutoff": 5.0,
    },
    "ponita-radius": {**PONITA_CONFIG, "cutoff": 5.0},
}
DEFAULT_SIZES = [100, 300, 1000, 3000, 10000, 30000, 100000]


def random_cloud(num_points: int, density: float, seed: int = 0):
    """One graph of ``num_points`` uniform points at ``density`` per Å^3, random elements."""
    from torch_geometric.data import Batch, Data

    gen = torch.Generator().manual_seed(seed)
    side = (num_points / density) ** (1.0 / 3.0)
    pos = torch.rand(num_points, 3, generator=gen) * side
    z = torch.tensor([1, 6, 7, 8, 9])[torch.randint(0, 5, (num_points,), generator=gen)]
    return Batch.from_data_list([Data(pos=pos, z=z, y=torch.zeros(1, 1))])


def _child(
    spec: str,
    config: str,
    size: int,
    density: float,
    modes: list[str],
    warmup: int,
    repeats: int,
    threads: int,
) -> dict:
    from regconv import models
    from regconv.graph import radius_graph

    torch.set_num_threads(threads)
    name, overrides = parse_spec(spec)
    overrides.pop("max_points", None)
    options = combine(applicable(name, CONFIGS[config]), overrides)
    torch.manual_seed(0)
    model = models.create(name, **options)
    batch = random_cloud(size, density)
    cutoff = options.get("cutoff")
    edges = (
        int(radius_graph(batch.pos, cutoff, batch.batch).shape[1]) if cutoff else size * (size - 1)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)
    reset = reset_peak_rss()
    base = current_rss_mb() if reset else peak_rss_mb()
    out = {
        "options": options,
        "edges": edges,
        "mean_neighbours": edges / size,
        "baseline_rss_mb": base,
        "high_water_reset": reset,
    }

    def infer():
        model.eval()
        with torch.inference_mode():
            model(batch)

    def train():
        model.train()
        opt.zero_grad(set_to_none=True)
        model(batch).square().mean().backward()
        opt.step()

    for mode in modes:
        fn = train if mode == "train" else infer
        for _ in range(warmup):
            fn()
        times = []
        with cpu_sampler() as load:
            for _ in range(repeats):
                t = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t)
        peak = peak_rss_mb()
        out[mode] = {
            "seconds_per_step": statistics.median(times),
            "seconds_repeats": times,
            "peak_rss_mb": peak,
            "peak_increase_mb": peak - base,
            "load": load,
        }
    return out


def fit_exponent(sizes: list[float], values: list[float]) -> float | None:
    """Least-squares slope of ``log value`` against ``log size`` (None for fewer than 2 points)."""
    pts = [(math.log(s), math.log(v)) for s, v in zip(sizes, values, strict=True) if v and v > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx if sxx > 0 else None


def run(args) -> list[dict]:
    records = []
    for spec in args.models:
        _, overrides = parse_spec(spec)
        max_points = overrides.get("max_points")
        results = {}
        for size in args.sizes:
            if max_points is not None and size > int(max_points):
                continue
            cmd = [
                *harness_command("scaling"),
                "--child",
                spec,
                "--config",
                args.config,
                "--sizes",
                str(size),
                "--density",
                str(args.density),
                "--modes",
                *args.modes,
                "--warmup",
                str(args.warmup),
                "--repeats",
                str(args.repeats),
                "--threads",
                str(args.threads),
            ]
            res = subprocess.run(cmd, capture_output=True, text=True, env=child_env())
            if res.returncode != 0:
                err = (
                    res.stderr.strip().splitlines()[-1]
                    if res.stderr.strip()
                    else f"exit {res.returncode}"
                )
                records.append(
                    emit({"bench": "scaling", "model": spec, "points": size, "error": err})
                )
                continue
            child = json.loads(res.stdout.strip().splitlines()[-1])
            results[size] = child
            records.append(
                emit(
                    {
                        "bench": "scaling",
                        "model": spec,
                        "config": args.config,
                        "points": size,
                        "density_per_A3": args.density,
                        "threads": args.threads,
                        **child,
                    }
                )
            )
        for mode in args.modes:
            sizes = [s for s in results if mode in results[s]]
            in_range = [s for s in sizes if args.fit_min <= s <= args.fit_max]
            t = {s: results[s][mode]["seconds_per_step"] for s in sizes}
            m = {s: results[s][mode]["peak_increase_mb"] for s in sizes}
            records.append(
                emit(
                    {
                        "bench": "scaling_fit",
                        "model": spec,
                        "config": args.config,
                        "mode": mode,
                        "fit_range": [args.fit_min, args.fit_max],
                        "sizes_in_fit": in_range,
                        "time_exponent": fit_exponent(in_range, [t[s] for s in in_range]),
                        "time_exponent_all_sizes": fit_exponent(sizes, [t[s] for s in sizes]),
                        "memory_exponent": fit_exponent(in_range, [m[s] for s in in_range]),
                        "seconds_per_step": {str(s): t[s] for s in sizes},
                        "peak_increase_mb": {str(s): m[s] for s in sizes},
                    }
                )
            )
    return records


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        nargs="+",
        default=["r3s2:table.step=0.1", "r3s2:table=None,max_points=30000"],
    )
    parser.add_argument("--config", default="small", choices=sorted(CONFIGS))
    parser.add_argument("--sizes", nargs="+", type=int, default=DEFAULT_SIZES)
    parser.add_argument("--density", type=float, default=0.05, help="points per Å^3")
    parser.add_argument(
        "--modes", nargs="+", default=["infer", "train"], choices=["infer", "train"]
    )
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--fit-min", type=int, default=1000)
    parser.add_argument("--fit-max", type=int, default=100000)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks scaling``."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks scaling", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        out = _child(
            args.child,
            args.config,
            args.sizes[0],
            args.density,
            args.modes,
            args.warmup,
            args.repeats,
            args.threads,
        )
        print(json.dumps(out, default=str), flush=True)
        return 0
    run(args)
    return 0
