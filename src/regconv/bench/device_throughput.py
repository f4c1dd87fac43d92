"""Training and inference throughput on one device (a GPU, or the CPU), per precision.

::

    regconv bench device-throughput --device cuda \\
        --models r3s2 schnet [--config ponita] \\
        [--precisions fp32 tf32 bf16] [--compile] [--batch-size 96] [--steps 20]

The same QM9 batches as :mod:`regconv.bench.throughput` (the first ``--subset`` molecules of the
dimenet train split, collated once and moved to the device before timing). Per model and
precision: ``--warmup`` untimed steps, then ``--steps`` training steps (forward, L1 loss on
ε_HOMO, backward, Adam) and as many inference steps, timed between device synchronisations.
Precisions: ``fp32``; ``tf32`` (fp32 with TensorFloat-32 matmuls and convolutions, CUDA only);
``bf16`` (``torch.autocast`` to bfloat16; parameters and the optimiser stay fp32).
``--compile`` also times ``torch.compile(model, dynamic=True)`` (its compilation falls in the
warm-up). Peak device memory (CUDA: ``torch.cuda.max_memory_allocated``) per model and mode.
One JSON line per measurement; a failure (e.g. no compiler) is a line with ``"error"``.
The repository's ``python -m benchmarks device-throughput`` adds PyTorch Geometric's reference
models (``dimenet++-pyg``, ...) through ``references``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time

import torch

from regconv.bench import emit
from regconv.bench.throughput import References

__all__ = ["DEFAULT_MODELS", "main", "precision", "time_steps"]

HOMO = 2
PRECISIONS = ("fp32", "tf32", "bf16")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def precision(mode: str, device: torch.device):
    """The matmul settings and autocast of ``mode`` around a block (restored after)."""
    if mode not in PRECISIONS:
        raise ValueError(f"unknown precision {mode!r}; choose from {PRECISIONS}")
    if mode == "tf32" and device.type != "cuda":
        raise ValueError("tf32 applies to CUDA devices only")
    old = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"
    cast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if mode == "bf16"
        else contextlib.nullcontext()
    )
    try:
        with cast:
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def time_steps(model, batches, device, mode: str, train: bool, warmup: int, steps: int) -> dict:
    """Molecules per second of ``steps`` training (or inference) steps after ``warmup``."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4) if train else None
    model.train(train)

    def step(b) -> None:
        if train:
            opt.zero_grad(set_to_none=True)
            with precision(mode, device):
                out = model(b)
            loss = (out[:, :1].float() - b.y[:, HOMO : HOMO + 1] / 1000.0).abs().mean()
            loss.backward()
            opt.step()
        else:
            with torch.inference_mode(), precision(mode, device):
                model(b)

    for i in range(warmup):
        step(batches[i % len(batches)])
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    mols, t0 = 0, time.perf_counter()
    for i in range(steps):
        b = batches[i % len(batches)]
        step(b)
        mols += b.num_graphs
    _sync(device)
    dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"molecules_per_s": mols / dt, "seconds": dt, "peak_device_memory_mb": peak}


#: The models measured when ``--models`` is not given
DEFAULT_MODELS = ["r3s2", "schnet"]


def main(
    argv: list[str] | None = None,
    *,
    references: References | None = None,
    default_models: list[str] | None = None,
    prog: str = "regconv bench device-throughput",
) -> int:
    """``regconv bench device-throughput``; ``references`` (models outside the registry by
    name) and ``default_models`` let a harness add models, ``prog`` name its command."""
    from regconv.bench.throughput import build_model, qm9_batches

    p = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", nargs="+", default=list(default_models or DEFAULT_MODELS))
    p.add_argument("--config", default="ponita", choices=["ponita", "default"])
    p.add_argument("--precisions", nargs="+", default=None, help="default: all that apply")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--subset", type=int, default=960)
    p.add_argument("--batch-size", type=int, default=96)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("device-throughput: CUDA is not available", file=sys.stderr)
        return 2
    modes = args.precisions or [m for m in PRECISIONS if m != "tf32" or device.type == "cuda"]
    batches = [b.to(device) for b in qm9_batches(args.subset, args.batch_size)]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    for spec in args.models:
        for compiled in (False, True) if args.compile else (False,):
            for mode in modes:
                rec = {"bench": "device_throughput", "device": name, "model": spec,
                       "precision": mode, "compile": compiled, "config": args.config,
                       "batch_size": args.batch_size}  # fmt: skip
                try:
                    model, options = build_model(spec, args.config, references)
                    model = model.to(device)
                    if compiled:
                        model = torch.compile(model, dynamic=True)
                    rec["options"] = options
                    for train in (True, False):
                        res = time_steps(model, batches, device, mode, train,
                                         args.warmup, args.steps)  # fmt: skip
                        emit({**rec, "mode": "train" if train else "infer", **res})
                except Exception as e:  # report and go on with the next configuration
                    emit({**rec, "error": f"{type(e).__name__}: {e}"})
    return 0
