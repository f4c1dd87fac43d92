"""``python -m regconv.bench {throughput,scaling,peak,flops}``: one JSON line per measurement.

    python -m regconv.bench throughput --models r3s2 r3s2:table_step=0.1 r3 schnet-pyg dimenet++-pyg \\
        [--config ponita] [--subset 2000] [--batch-size 96] [--repeats 5]
    python -m regconv.bench scaling [--sizes 100 1000 10000 100000] [--models r3s2:table_step=0.1]
    python -m regconv.bench peak [--n 2048] [--repeats 10]
    python -m regconv.bench flops [--models r3s2 r3s2:table_step=0.1] [--config ponita]

Use ``--threads`` (default: torch's current count) to fix the number of threads.
See :mod:`regconv.bench.throughput` and :mod:`regconv.bench.scaling` for the protocols.

The benchmarks with a command line of their own are forwarded: ``python -m regconv.bench budget
...`` is ``python -m regconv.bench.budget ...`` (also ``accuracy-check``, ``grid-error``,
``nbody-errors``, ``profile-step``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

import torch

from regconv.bench import cpu_sampler, emit


def _peak(args) -> None:
    from regconv.bench.flops import matmul_peak

    torch.set_num_threads(args.threads)
    with cpu_sampler() as load:
        res = matmul_peak(args.n, args.repeats, args.trials)
    emit({"bench": "matmul_peak", "dtype": "float32", **res, "load": load})


def _flops(args) -> None:
    from regconv.bench.flops import training_step_flops
    from regconv.bench.throughput import build_model, qm9_batches

    torch.set_num_threads(args.threads)
    batch = qm9_batches(args.batch_size, args.batch_size)[0]
    for spec in args.models:
        model, options = build_model(spec, args.config)
        f = training_step_flops(model, batch)
        emit(
            {
                "bench": "flops",
                "model": spec,
                "options": options,
                "molecules": batch.num_graphs,
                "matmul_flops_forward": f["forward"],
                "matmul_flops_forward_backward": f["forward_backward"],
                "matmul_gflops_per_molecule_train": f["forward_backward"] / batch.num_graphs / 1e9,
                "per_op": f["per_op"],
                "method": "torch.utils.flop_counter.FlopCounterMode (matmuls only)",
            }
        )


#: Benchmarks with their own ``main(argv)``, forwarded by name (``-`` or ``_``).
FORWARDED = (
    "budget",
    "pes_budget",
    "accuracy_check",
    "grid_error",
    "nbody_errors",
    "md_speed",
    "md_checks",
    "device_throughput",
    "profile_step",
)


def main(argv: list[str] | None = None) -> int:
    """Run one benchmark (``argv`` None: ``sys.argv[1:]``); the exit code."""
    from regconv.bench import scaling, throughput

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].replace("-", "_") in FORWARDED:
        module = importlib.import_module(f"regconv.bench.{argv[0].replace('-', '_')}")
        return int(module.main(argv[1:]) or 0)
    parser = argparse.ArgumentParser(
        prog="python -m regconv.bench",
        description=__doc__.splitlines()[0],
        epilog="also: " + ", ".join(n.replace("_", "-") for n in FORWARDED) + " (their own "
        "options: python -m regconv.bench NAME --help)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    throughput.add_arguments(
        sub.add_parser("throughput", help="QM9 training/inference throughput, memory, FLOPs")
    )
    scaling.add_arguments(sub.add_parser("scaling", help="cost against the number of points"))
    p = sub.add_parser("peak", help="fp32 matmul peak of this machine")
    p.add_argument("--n", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    f = sub.add_parser("flops", help="matmul FLOPs of one training step on a QM9 batch")
    f.add_argument("--models", nargs="+", default=["r3s2", "r3s2:table_step=0.1"])
    f.add_argument("--config", default="ponita", choices=["ponita", "default"])
    f.add_argument("--batch-size", type=int, default=96)
    f.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    if args.command == "throughput":
        throughput.run(args)
    elif args.command == "scaling":
        scaling.run(args)
    elif args.command == "peak":
        _peak(args)
    else:
        _flops(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
