"""Matmul FLOPs of one training step per model, and the fp32 matmul peak of this machine.

    python -m benchmarks flops [--models r3s2 r3s2:table=None] [--config ponita] \
        [--batch-size 96]
    python -m benchmarks peak [--n 2048] [--repeats 10] [--trials 5]

One JSON line per model (``flops``: :func:`regconv.bench.flops.training_step_flops` on the first
QM9 batch of :func:`regconv.bench.throughput.qm9_batches`, models built as the throughput
benchmark builds them, PyG's references included) or one line (``peak``:
:func:`regconv.bench.flops.matmul_peak`).
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.throughput import REFERENCE_BUILDERS
from regconv.bench import cpu_sampler, emit
from regconv.bench.flops import matmul_peak, training_step_flops
from regconv.bench.throughput import build_model, qm9_batches

__all__ = ["main", "peak_main"]


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks flops``."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks flops", description=__doc__.split("\n")[0]
    )
    p.add_argument("--models", nargs="+", default=["r3s2", "r3s2:table=None"])
    p.add_argument("--config", default="ponita", choices=["ponita", "default"])
    p.add_argument("--batch-size", type=int, default=96)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch = qm9_batches(args.batch_size, args.batch_size)[0]
    for spec in args.models:
        model, options = build_model(spec, args.config, REFERENCE_BUILDERS)
        f = training_step_flops(model, batch)
        emit({
            "bench": "flops",
            "model": spec,
            "options": options,
            "molecules": batch.num_graphs,
            "matmul_flops_forward": f["forward"],
            "matmul_flops_forward_backward": f["forward_backward"],
            "matmul_gflops_per_molecule_train": f["forward_backward"] / batch.num_graphs / 1e9,
            "per_op": f["per_op"],
            "method": "torch.utils.flop_counter.FlopCounterMode (matmuls only)",
        })  # fmt: skip
    return 0


def peak_main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks peak``."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks peak", description=__doc__.split("\n")[0]
    )
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    with cpu_sampler() as load:
        res = matmul_peak(args.n, args.repeats, args.trials)
    emit({"bench": "matmul_peak", "dtype": "float32", **res, "load": load})
    return 0
