"""Where a training step's time goes: the PyTorch profiler over QM9 training steps of one model.

    python -m benchmarks profile-step --model r3s2 [--config ponita] [--steps 2] [--warmup 2] \\
        [--threads 2] [--rows 15]

The batches, model and training step are those of :mod:`regconv.bench.throughput` (the first
``--subset`` molecules of the dimenet train split in batches of ``--batch-size``, L1 on ε_HOMO,
Adam). ``--warmup`` steps run first, then ``--steps`` steps under ``torch.profiler`` (CPU
activities, no shapes: recording shapes distorts the timings of large element-wise ops here).

One JSON line per operator among the ``--rows`` largest by self CPU time (``self_ms_per_step``,
``calls_per_step``, ``share``: of the profiled self time), then one per autograd function of
regconv's fused ops (``_TableMessageSum``, ``_LayerNormMLP``, ... and their backward nodes) with
its total CPU time per step, children included, and a summary line with the profiled and the
unprofiled time per step (the profiler adds its own overhead). Timings need an idle machine.
"""

from __future__ import annotations

import argparse
import time

import torch

from regconv.bench import emit

#: name prefixes of regconv's autograd functions (forward and backward nodes)
FUSED_PREFIXES = (
    "_TableMessageSum", "_KernelMessageSum", "_LayerNormMLP", "_GeluMLP2", "_Transpose",
    "_NativeFibreMix",
)  # fmt: skip


def profile_training_steps(
    spec: str, config: str, subset: int, batch_size: int, steps: int, warmup: int
) -> tuple[list, float, float]:
    """``(key averages, profiled s/step, unprofiled s/step)`` of ``steps`` training steps."""
    from torch.profiler import ProfilerActivity, profile

    from benchmarks.throughput import REFERENCE_BUILDERS
    from regconv.bench.throughput import StepRunner, qm9_batches

    batches = qm9_batches(subset, batch_size)
    runner = StepRunner(spec, config, batches, REFERENCE_BUILDERS)
    runner.train_steps(warmup)
    _, plain = runner.train_steps(steps)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        runner.train_steps(steps)
        profiled = time.perf_counter() - t0
    return list(prof.key_averages()), profiled / steps, plain / steps


def run(args: argparse.Namespace) -> list[dict]:
    if args.steps < 1 or args.rows < 1:
        raise ValueError("--steps and --rows must be at least 1")
    torch.set_num_threads(args.threads)
    events, profiled, plain = profile_training_steps(
        args.model, args.config, args.subset, args.batch_size, args.steps, args.warmup
    )
    per_step = 1e-3 / args.steps  # us over all steps -> ms per step
    total_self = sum(e.self_cpu_time_total for e in events) or 1.0
    common = {"model": args.model, "config": args.config, "steps": args.steps,
              "batch_size": args.batch_size}  # fmt: skip
    records = []
    for e in sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[: args.rows]:
        records.append(emit({
            "bench": "profile_op", **common, "op": e.key,
            "self_ms_per_step": round(e.self_cpu_time_total * per_step, 2),
            "calls_per_step": e.count / args.steps,
            "share": round(e.self_cpu_time_total / total_self, 4),
        }))  # fmt: skip
    for e in events:
        if e.key.startswith(FUSED_PREFIXES):
            records.append(emit({
                "bench": "profile_region", **common, "region": e.key,
                "total_ms_per_step": round(e.cpu_time_total * per_step, 2),
                "calls_per_step": e.count / args.steps,
            }))  # fmt: skip
    records.append(emit({
        "bench": "profile_summary", **common,
        "profiled_s_per_step": round(profiled, 4), "unprofiled_s_per_step": round(plain, 4),
        "self_cpu_s_per_step": round(total_self * 1e-6 / args.steps, 4),
    }))  # fmt: skip
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks profile-step", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", default="r3s2", help="a model spec, as for throughput")
    parser.add_argument("--config", default="ponita", choices=["ponita", "default"])
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=96)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rows", type=int, default=15)
    run(parser.parse_args(argv))
    return 0
