"""What a force step costs: energy + force training against energy-only training, same model,
same batch, same run.

::

    python -m benchmarks force-step [--models r3s2 r3 schnet] [--molecule aspirin] \\
        [--batch-size 5] [--steps 12] [--warmup 3] [--threads 2] [--dtype float32]

The models are the energy-force budget's (:mod:`benchmarks.pes_budget.specs`: a spec
``NAME[:key=value,...]`` overrides their options), or with ``--options registered`` the
registry's defaults (:func:`regconv.models.create`). The batch is ``--batch-size`` geometries of
a generated set's molecule: RDKit's MMFF start geometry (:func:`regconv.data.md17.start_geometry`)
jittered by 0.05 Å per coordinate, one seed per geometry (no energies needed: the targets are
zeros, what a step costs does not depend on them). Two training steps of the same model on it,
with Adam:

- ``energy``: the energy, an MSE loss on it, backward, optimizer step;
- ``force``: the energy and the forces ``-dE/dpos`` (``create_graph``, as
  :func:`regconv.training.energy_forces.standardised_energy_forces` computes them in training),
  an MSE loss on both (forces weighted 100), backward (the double backward), optimizer step.

The two are interleaved step by step after ``--warmup`` of each, and the median of ``--steps``
is reported. One JSON line per model: ``energy_ms``, ``force_ms``, ``ratio`` (force ÷ energy),
``force_steps_per_s``, the peak RSS of the timed steps (``peak_rss_mb``, the process's
high-water mark after warm-up; ``peak_above_start_mb`` above the RSS before them) and the load
on the machine. Timings need an idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from regconv.bench import cpu_sampler, current_rss_mb, emit, peak_rss_mb, reset_peak_rss

__all__ = ["aspirin_batch", "main", "measure"]

#: the default models: the seed's model and the two it is compared with
DEFAULT_MODELS = ["r3s2", "r3", "schnet"]


def aspirin_batch(molecule: str, size: int, dtype: torch.dtype):
    """A PyG batch of ``size`` jittered start geometries of ``molecule`` (zero targets)."""
    from torch_geometric.data import Batch, Data

    from regconv.data.md17.catalog import start_geometry

    z, pos = start_geometry(molecule)
    frames = []
    for k in range(size):
        rng = np.random.default_rng(k)
        p = torch.tensor(pos + rng.normal(0.0, 0.05, pos.shape), dtype=dtype)
        frames.append(Data(z=torch.tensor(z), pos=p, y=torch.zeros(1, 1, dtype=dtype)))
    return Batch.from_data_list(frames)


def _energy_step(net, opt, batch) -> None:
    opt.zero_grad(set_to_none=True)
    energy = net(batch)  # [B, 1]
    torch.nn.functional.mse_loss(energy, torch.zeros_like(energy)).backward()
    opt.step()


def _force_step(net, opt, batch) -> None:
    from regconv.training.energy_forces import standardised_energy_forces

    opt.zero_grad(set_to_none=True)
    energy, forces = standardised_energy_forces(net, batch, create_graph=True)
    loss = torch.nn.functional.mse_loss(energy, torch.zeros_like(energy))
    loss = loss + 100.0 * torch.nn.functional.mse_loss(forces, torch.zeros_like(forces))
    loss.backward()
    opt.step()


def model_options(spec: str, registered: bool) -> tuple[str, dict]:
    """``(name, options)`` of ``spec``: the budget's options with the spec's, or (``registered``)
    the registry's defaults with the spec's."""
    from benchmarks.pes_budget.specs import spec_options
    from regconv.bench.specs import parse_spec

    return parse_spec(spec) if registered else spec_options(spec)


def measure(
    spec: str, batch, steps: int, warmup: int, dtype: torch.dtype, registered: bool = False
) -> dict:
    """Median energy-only and force step times (ms) of ``spec`` on ``batch``, interleaved."""
    from regconv import models

    name, options = model_options(spec, registered)
    torch.manual_seed(0)
    net = models.create(name, num_outputs=1, output="graph", **options).to(dtype)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    for _ in range(warmup):
        _energy_step(net, opt, batch)
        _force_step(net, opt, batch)
    times: dict[str, list[float]] = {"energy": [], "force": []}
    rss0 = current_rss_mb()
    reset_peak_rss()
    with cpu_sampler() as load:
        for _ in range(steps):
            for mode, step in (("energy", _energy_step), ("force", _force_step)):
                t0 = time.perf_counter()
                step(net, opt, batch)
                times[mode].append(time.perf_counter() - t0)
    energy_ms = 1e3 * statistics.median(times["energy"])
    force_ms = 1e3 * statistics.median(times["force"])
    return {
        "model": spec,
        "energy_ms": round(energy_ms, 2),
        "force_ms": round(force_ms, 2),
        "ratio": round(force_ms / energy_ms, 2),
        "force_steps_per_s": round(1e3 / force_ms, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_above_start_mb": round(peak_rss_mb() - rss0, 1) if rss0 is not None else None,
        "parameters": sum(p.numel() for p in net.parameters()),
        "load": load,
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks force-step",
        description="Time of an energy + force training step against an energy-only one.",
        allow_abbrev=False,
    )
    p.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="NAME[:key=value,...]")
    p.add_argument("--molecule", default="aspirin")
    p.add_argument("--batch-size", type=int, default=5)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument(
        "--options",
        choices=["budget", "registered"],
        default="budget",
        help="the energy-force budget's model options, or the registry's defaults",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    for flag in ("batch_size", "steps", "threads"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        p.error("--warmup must be at least 0")
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    batch = aspirin_batch(args.molecule, args.batch_size, dtype)
    for spec in args.models:
        rec = measure(spec, batch, args.steps, args.warmup, dtype, args.options == "registered")
        emit({"bench": "force-step", "molecule": args.molecule, "batch_size": args.batch_size,
              "dtype": args.dtype, "threads": args.threads, "options": args.options,
              **rec})  # fmt: skip
    return 0
