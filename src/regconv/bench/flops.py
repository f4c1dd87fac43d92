"""FLOPs of a training step and the fp32 matmul peak of this machine.

- :func:`count_flops` runs a callable under :class:`torch.utils.flop_counter.FlopCounterMode`,
  which counts the matrix products (``mm``, ``addmm``, ``bmm``, ``baddbmm``, convolutions,
  attention) dispatched by the forward AND the backward pass — including those inside custom
  autograd Functions — from their shapes. Element-wise work (activations, gathers, scatters,
  embedding bags, norms) is not counted: the count is the matmul work, the part a matmul peak
  applies to.
- :func:`matmul_peak` measures ``n x n @ n x n`` fp32 products repeated (median of trials), at the
  current torch thread count.

The throughput benchmark records both; the repository's harnesses print them alone::

    python -m benchmarks flops [--models r3s2 ...]   # FLOPs per training step per molecule
    python -m benchmarks peak                         # the matmul peak alone
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode


def matmul_peak(
    n: int = 2048, repeats: int = 10, trials: int = 5, dtype: torch.dtype = torch.float32
) -> dict:
    """``[n, n] @ [n, n]`` throughput in ``dtype`` (float32 by default) in GFLOP/s: median and
    best of ``trials`` runs of ``repeats`` products each (one warm-up run excluded)."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    torch.mm(a, b, out=out)
    rates = []
    for _ in range(trials):
        t = time.perf_counter()
        for _ in range(repeats):
            torch.mm(a, b, out=out)
        dt = time.perf_counter() - t
        rates.append(2.0 * n**3 * repeats / dt / 1e9)
    return {
        "n": n,
        "repeats": repeats,
        "trials": trials,
        "gflops_median": statistics.median(rates),
        "gflops_best": max(rates),
    }


def count_flops(fn: Callable[[], object]) -> dict:
    """Matmul FLOPs of ``fn()`` (forward and whatever backward it runs), total and per op."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    per_op = {str(k): int(v) for k, v in counter.get_flop_counts().get("Global", {}).items()}
    return {"total": int(counter.get_total_flops()), "per_op": per_op}


def training_step_flops(model: torch.nn.Module, batch, loss_fn=None) -> dict:
    """Matmul FLOPs of one forward + backward pass of ``model`` on ``batch`` (no optimiser)."""

    def step():
        model.zero_grad(set_to_none=True)
        out = model(batch)
        loss = out.square().mean() if loss_fn is None else loss_fn(out)
        loss.backward()

    fwd = count_flops(lambda: model(batch))
    total = count_flops(step)
    return {"forward": fwd["total"], "forward_backward": total["total"], "per_op": total["per_op"]}
