"""Training and inference throughput, peak memory, parameters and FLOPs on QM9 batches.

    regconv bench throughput --models r3s2 r3s2:table=None r3 \\
        [--config ponita|default] [--subset 2000] [--batch-size 96] [--repeats 5] [--threads N]
        [--precision fp32|bf16]

Protocol
--------
- Data: the first ``--subset`` molecules of the dimenet train split of QM9, cut in order into
  batches of ``--batch-size`` (the last partial batch dropped), collated once beforehand
  (collation is not timed). Every model sees the same batches in the same order.
- Training step: forward, L1 loss on the ``homo`` column, backward, Adam step. Inference step:
  ``model.eval()`` under ``torch.inference_mode()``. ``--precision bf16`` runs every model's
  forward pass (PONITA's included) under ``torch.autocast`` to bfloat16 (parameters, loss and
  optimiser in float32; mixed-precision training); ``fp32`` (default) without autocast.
- ``--warmup`` steps per model and mode are run first and not timed. Then ``--repeats`` rounds;
  in each round every model runs ``--steps-per-repeat`` consecutive batches in turn (models
  interleaved A, B, C, A, B, C, ... so that load changes on a shared machine hit all alike).
  Throughput of a repeat = molecules / seconds; reported: the median (and all repeats).
- Peak memory: a fresh subprocess per model loads the batches it needs, builds the model, resets
  its RSS high-water mark to the current RSS (Linux ``/proc/self/clear_refs``; loading QM9 has
  a transient peak of its own) and records that RSS as the baseline, runs 2 inference steps and
  reads the high-water mark (``VmHWM``), then 2 training steps and reads it again. Reported:
  the absolute high-water marks (interpreter, torch, data and parameters included) and their
  increase over the baseline (what the model's steps needed). Where the reset is unsupported,
  ``ru_maxrss`` is used and the increase may read 0.
- FLOPs: matmul FLOPs of one forward + backward pass on the first batch, counted from shapes by
  ``torch.utils.flop_counter.FlopCounterMode`` (see :mod:`regconv.bench.flops`), per molecule;
  achieved rate = FLOPs per molecule x training molecules/s, and its fraction of this machine's
  matmul peak in the run's precision measured in the same run (``2048 x 2048`` products).

``--ponita DIR [DIR]`` adds the author's PONITA implementations from checkouts (never vendored;
:mod:`regconv.bench.ponita_checkouts`): the paper code (github.com/ebekkers/ponita, model
``ponita``) or the pure-torch rewrite (github.com/ebekkers/ponita-torch, model ``ponita-torch``),
told apart by their layout, on the same batches; a ``reference`` record names each with its
commit, and one ``ratio`` record per model, mode and reference follows. ``--ponita-torch DIR``
is the older spelling of ``--ponita DIR``.

Model specs: a registry name (``r3s2``, ``r3``, ``se3``, ...) or the name of a reference model
passed in ``references`` (the repository's ``python -m benchmarks throughput`` adds PyTorch
Geometric's ``schnet-pyg`` and ``dimenet++-pyg``), optionally followed by ``:key=value,...``
constructor overrides (:mod:`regconv.bench.specs`: ``r3s2:table=None`` for the exact kernel,
``r3s2:table.order=linear``); the extra key ``unfused=1`` selects the plain layer-by-layer
implementation (``fused = False`` on the convolutions, kernel bases and blocks: the code path
before fusion, same results up to round-off); ``compile=1`` wraps the model in
``torch.compile(dynamic=True)`` (it works on CPU here but compiles for about a minute and
recompiles as batch shapes change: use ``--warmup`` of several steps). ``--config ponita``
(default) applies the PONITA-class reference config (:data:`regconv.bench.PONITA_CONFIG`;
r3s2: hidden 128, 5 layers, 16 orientations, basis 256, degree 3, full graph) to every registry
model where it applies (:func:`regconv.bench.options.applicable`: the orientations to the
models on R^3 x S^2, the basis to every model with one), the spec's overrides on top.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping

import torch

from regconv.bench import (
    PONITA_CONFIG,
    cpu_sampler,
    current_rss_mb,
    emit,
    peak_rss_mb,
    reset_peak_rss,
)
from regconv.bench.flops import matmul_peak, training_step_flops
from regconv.bench.options import applicable, combine
from regconv.bench.ponita_checkouts import IMPLEMENTATIONS, build_reference, describe
from regconv.bench.specs import parse_spec

__all__ = [
    "DEFAULT_MODELS",
    "References",
    "StepRunner",
    "add_arguments",
    "build_model",
    "main",
    "memory_in_subprocess",
    "precision_autocast",
    "qm9_batches",
    "run",
    "unfuse",
]

HOMO = 2
#: ``--precision``: float32, or bfloat16 autocast around every model's forward pass
PRECISIONS = ("fp32", "bf16")
DEFAULT_MODELS = ["r3s2", "r3s2:table=None", "r3"]


def unfuse(model: torch.nn.Module) -> torch.nn.Module:
    """Switch ``model`` to the plain layer-by-layer code path, in place: ``fused = False`` on
    every submodule whose class has a ``fused`` switch (the convolutions, kernel bases and block
    MLPs). Same arithmetic as the fused path, different round-off. Returns ``model``."""
    for m in model.modules():
        if "fused" in vars(type(m)):
            m.fused = False
    return model


#: Models outside the registry by name: a constructor without arguments for each (built seeded)
References = Mapping[str, Callable[[], torch.nn.Module]]


def build_model(
    spec: str, config: str = "ponita", references: References | None = None
) -> tuple[torch.nn.Module, dict]:
    """The model of ``spec`` (seeded) and the options it was built with; ``references``: models
    outside the registry, by name (built without options)."""
    from regconv import models

    references = references or {}
    name, overrides = parse_spec(spec)
    if name in IMPLEMENTATIONS:  # the author's implementations, from a user's checkout
        if "path" not in overrides:
            raise ValueError(f"{name} needs its checkout: {name}:path=DIR")
        torch.manual_seed(0)
        return build_reference(name, str(overrides.pop("path")), **overrides)
    if name in references:
        if overrides:
            raise ValueError(f"reference model {name!r} takes no overrides")
        torch.manual_seed(0)
        return references[name](), {}
    unfused = bool(overrides.pop("unfused", False))
    compiled = bool(overrides.pop("compile", False))
    options = {}
    if config == "ponita":
        options = applicable(name, PONITA_CONFIG)
    elif config != "default":
        raise ValueError(f"unknown config {config!r}; choose 'ponita' or 'default'")
    options = combine(options, overrides)
    torch.manual_seed(0)
    model = models.create(name, **options)
    if unfused:  # the plain layer-by-layer code path (convolution, kernel basis, block MLP)
        unfuse(model)
        options["unfused"] = True
    if compiled:  # optional: torch.compile (inductor); compiles and recompiles during warm-up
        model = torch.compile(model, dynamic=True)
        options["compile"] = True
    return model, options


def qm9_batches(subset: int, batch_size: int) -> list:
    from torch_geometric.data import Batch

    from regconv.data import QM9

    data = QM9("train", scheme="dimenet", subset=subset)
    n = len(data) - len(data) % batch_size
    if n == 0:
        raise ValueError(f"subset {subset} is smaller than one batch of {batch_size}")
    return [
        Batch.from_data_list([data[j] for j in range(i, i + batch_size)])
        for i in range(0, n, batch_size)
    ]


def precision_autocast(precision: str) -> torch.autocast:
    """The CPU autocast of a :data:`PRECISIONS` name: to bfloat16 for ``bf16``, off for ``fp32``."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose from {PRECISIONS}")
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


class StepRunner:
    """One model with its optimiser and a cursor into the shared batch list: timed training
    steps (forward, L1 loss on ε_HOMO in eV, backward, Adam) and inference steps."""

    def __init__(
        self,
        spec: str,
        config: str,
        batches: list,
        references: References | None = None,
        precision: str = "fp32",
    ) -> None:
        precision_autocast(precision)  # a ValueError for an unknown precision, before the model
        self.spec = spec
        self.precision = precision
        self.model, self.options = build_model(spec, config, references)
        self.params = sum(p.numel() for p in self.model.parameters())
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        self.batches = batches
        self.cursor = 0

    def _autocast(self):
        return precision_autocast(self.precision)

    def _next(self):
        b = self.batches[self.cursor % len(self.batches)]
        self.cursor += 1
        return b

    def train_steps(self, steps: int) -> tuple[int, float]:
        self.model.train()
        mols, t0 = 0, time.perf_counter()
        for _ in range(steps):
            b = self._next()
            self.opt.zero_grad(set_to_none=True)
            with self._autocast():
                out = self.model(b)
            loss = (out[:, :1].float() - b.y[:, HOMO : HOMO + 1] / 1000.0).abs().mean()
            loss.backward()
            self.opt.step()
            mols += b.num_graphs
        return mols, time.perf_counter() - t0

    def infer_steps(self, steps: int) -> tuple[int, float]:
        self.model.eval()
        mols, t0 = 0, time.perf_counter()
        with torch.inference_mode(), self._autocast():
            for _ in range(steps):
                b = self._next()
                self.model(b)
                mols += b.num_graphs
        return mols, time.perf_counter() - t0


def _interleaved(
    runners: list[StepRunner], mode: str, warmup: int, repeats: int, steps: int
) -> dict:
    results = {r.spec: {"rates": [], "others": [], "busy": [], "load": []} for r in runners}
    for r in runners:
        r.cursor = 0
        (r.train_steps if mode == "train" else r.infer_steps)(warmup)
    for _ in range(repeats):
        for r in runners:
            with cpu_sampler() as load:
                mols, dt = (r.train_steps if mode == "train" else r.infer_steps)(steps)
            res = results[r.spec]
            res["rates"].append(mols / dt)
            res["others"].append(load.get("others_cpu_fraction"))
            res["busy"].append(load.get("cpu_busy_fraction"))
            res["load"].append(load.get("loadavg_after"))
    return results


def _memory_child(
    spec: str,
    config: str,
    subset: int,
    batch_size: int,
    threads: int,
    steps: int,
    references: References | None = None,
    precision: str = "fp32",
) -> dict:
    import gc

    torch.set_num_threads(threads)
    batches = qm9_batches(subset, batch_size)[: max(steps, 1)]
    runner = StepRunner(spec, config, batches, references, precision)
    gc.collect()
    reset = reset_peak_rss()
    base = current_rss_mb() if reset else peak_rss_mb()
    runner.infer_steps(steps)
    infer = peak_rss_mb()
    runner.cursor = 0
    runner.train_steps(steps)
    train = peak_rss_mb()
    return {
        "baseline_rss_mb": base,
        "peak_rss_infer_mb": infer,
        "peak_rss_train_mb": train,
        "infer_increase_mb": infer - base,
        "train_increase_mb": train - base,
        "high_water_reset": reset,
    }


#: The command of this benchmark in a fresh interpreter (the peak-memory subprocesses)
COMMAND = [sys.executable, "-m", "regconv.bench", "throughput"]


def memory_in_subprocess(
    spec: str,
    config: str,
    subset: int,
    batch_size: int,
    threads: int,
    steps: int = 2,
    command: list[str] | None = None,
    precision: str = "fp32",
) -> dict:
    """Peak RSS of ``steps`` inference then ``steps`` training steps in a fresh interpreter
    (``command``: how this benchmark is run there; default :data:`COMMAND`)."""
    cmd = [
        *(command or COMMAND),
        "--memory-child",
        spec,
        "--config",
        config,
        "--subset",
        str(subset),
        "--batch-size",
        str(batch_size),
        "--threads",
        str(threads),
        "--memory-steps",
        str(steps),
        "--precision",
        precision,
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {
            "error": res.stderr.strip().splitlines()[-1]
            if res.stderr.strip()
            else f"exit {res.returncode}"
        }
    return json.loads(res.stdout.strip().splitlines()[-1])


def _summary(values: list) -> dict:
    vals = [v for v in values if v is not None]
    return {"median": statistics.median(vals), "max": max(vals)} if vals else {}


def run(args, references: References | None = None, command: list[str] | None = None) -> list[dict]:
    """Measure the models of ``args`` (see :func:`add_arguments`); ``references``: models
    outside the registry by name; ``command``: this benchmark's command in a fresh interpreter
    (for the peak-memory subprocesses)."""
    torch.set_num_threads(args.threads)
    models = list(args.models)
    records = []
    for checkout in getattr(args, "ponita", None) or []:
        ref = describe(checkout)  # a ValueError now if it is not a checkout
        spec = f"{ref['implementation']}:path={checkout}"
        records.append(emit({"bench": "reference", "model": spec, **ref}))
        models.append(spec)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.precision]
    with cpu_sampler() as load:
        peak = matmul_peak(dtype=dtype)
    records.append(emit({"bench": "matmul_peak", "dtype": str(dtype)[6:], **peak, "load": load}))
    batches = qm9_batches(args.subset, args.batch_size)
    runners = [
        StepRunner(spec, args.config, batches, references, args.precision) for spec in models
    ]
    # FLOPs first (a forward + backward pass each, not timed)
    flops = {}
    for r in runners:
        b = batches[0]
        f = training_step_flops(r.model, b)
        flops[r.spec] = {
            "per_step": f["forward_backward"],
            "forward_per_step": f["forward"],
            "per_molecule": f["forward_backward"] / b.num_graphs,
            "molecules": b.num_graphs,
            "per_op": f["per_op"],
        }
        r.model.zero_grad(set_to_none=True)
    common = {
        "subset": args.subset,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "steps_per_repeat": args.steps_per_repeat,
        "config": args.config,
        "precision": args.precision,
    }
    for mode in ("train", "infer"):
        res = _interleaved(runners, mode, args.warmup, args.repeats, args.steps_per_repeat)
        for r in runners:
            rr = res[r.spec]
            rec = {
                "bench": "throughput",
                "mode": mode,
                "model": r.spec,
                "options": r.options,
                "parameters": r.params,
                "molecules_per_s": statistics.median(rr["rates"]),
                "molecules_per_s_repeats": [round(x, 3) for x in rr["rates"]],
                "others_cpu_fraction": _summary(rr["others"]),
                "cpu_busy_fraction": _summary(rr["busy"]),
                "loadavg": _summary(rr["load"]),
                **common,
            }
            if mode == "train":
                fl = flops[r.spec]
                achieved = fl["per_molecule"] * rec["molecules_per_s"]
                rec.update(
                    {
                        "matmul_flops_per_step": fl["per_step"],
                        "matmul_flops_per_molecule": fl["per_molecule"],
                        "achieved_gflops": achieved / 1e9,
                        "fraction_of_matmul_peak": achieved / 1e9 / peak["gflops_median"],
                        "flops_by_op": fl["per_op"],
                    }
                )
            records.append(emit(rec))
    if not args.no_memory:
        for r in runners:
            mem = memory_in_subprocess(
                r.spec,
                args.config,
                args.subset,
                args.batch_size,
                args.threads,
                command=command,
                precision=args.precision,
            )
            records.append(
                emit(
                    {
                        "bench": "memory",
                        "model": r.spec,
                        "options": r.options,
                        "method": "ru_maxrss of a fresh subprocess (RSS high-water mark)",
                        **mem,
                        **common,
                    }
                )
            )
    records += _ratios(records)
    _table(records, sys.stderr)
    return records


def _ratios(records: list[dict]) -> list[dict]:
    """Each model's throughput over each PONITA reference's that ran, per mode."""
    out = []
    for mode in ("train", "infer"):
        rows = [r for r in records if r.get("bench") == "throughput" and r["mode"] == mode]
        for ref in rows:
            reference = ref["model"].split(":", 1)[0]
            if reference not in IMPLEMENTATIONS:
                continue
            for r in rows:
                if r["model"].split(":", 1)[0] not in IMPLEMENTATIONS:
                    ratio = r["molecules_per_s"] / ref["molecules_per_s"]
                    out.append(emit({"bench": "ratio", "reference": reference,
                                     "reference_model": ref["model"], "mode": mode,
                                     "model": r["model"], "ratio": round(ratio, 3)}))  # fmt: skip
    return out


def _table(records: list[dict], stream) -> None:
    rows = {}
    for rec in records:
        if rec.get("bench") == "throughput":
            rows.setdefault(rec["model"], {})[rec["mode"]] = rec
        elif rec.get("bench") == "memory":
            rows.setdefault(rec["model"], {})["memory"] = rec
    print(
        "\n| model | params | train mol/s | infer mol/s | GFLOP/mol (train) | % matmul peak | peak RSS train (MB) |",
        file=stream,
    )
    print("|---|---|---|---|---|---|---|", file=stream)
    for name, r in rows.items():
        tr, inf, mem = r.get("train", {}), r.get("infer", {}), r.get("memory", {})
        print(
            f"| {name} | {tr.get('parameters', '')} | {tr.get('molecules_per_s', float('nan')):.1f} | "
            f"{inf.get('molecules_per_s', float('nan')):.1f} | "
            f"{tr.get('matmul_flops_per_molecule', float('nan')) / 1e9:.2f} | "
            f"{100 * tr.get('fraction_of_matmul_peak', float('nan')):.0f} | "
            f"{mem.get('peak_rss_train_mb', float('nan')):.0f} |",
            file=stream,
        )
    for ref in (r for r in records if r.get("bench") == "reference"):
        commit = (ref["commit"] or "commit unknown")[:7]
        ratios = [r for r in records if r.get("bench") == "ratio"
                  and r["reference_model"] == ref["model"]]  # fmt: skip
        print(f"\nratios to {ref['implementation']} ({ref['source']}, {commit}):", file=stream)
        for r in ratios:
            print(f"  {r['mode']:5s} {r['model']}: {r['ratio']:.2f}x", file=stream)


def add_arguments(parser: argparse.ArgumentParser, default_models: list[str] | None = None) -> None:
    """The options of the benchmark (``--models`` defaults to ``default_models``, else
    :data:`DEFAULT_MODELS`)."""
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(default_models or DEFAULT_MODELS),
        help="model specs: name[:key=value,...]",
    )
    parser.add_argument(
        "--config",
        default="ponita",
        choices=["ponita", "default"],
        help="ponita: r3s2 hidden 128, 5 layers, 16 orientations, basis 256, degree 3, full graph",
    )
    parser.add_argument("--subset", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps-per-repeat", type=int, default=1)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=PRECISIONS,
        help="bf16: every model's forward pass under torch.autocast to bfloat16 (mixed precision)",
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory subprocesses"
    )
    parser.add_argument(
        "--ponita",
        "--ponita-torch",
        nargs="+",
        action="extend",
        default=None,
        metavar="DIR",
        help="checkouts of github.com/ebekkers/ponita and/or ebekkers/ponita-torch: adds each "
        "as a model (named by its layout) and records each model's ratio to it",
    )


def main(
    argv: list[str] | None = None,
    *,
    references: References | None = None,
    default_models: list[str] | None = None,
    command: list[str] | None = None,
    prog: str = "regconv bench throughput",
) -> int:
    """``regconv bench throughput``; the keywords let a harness add models outside the registry
    (``references``, in ``default_models``) and name its own ``command`` (for the subprocesses)
    and ``prog``."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_arguments(parser, default_models)
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-steps", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        out = _memory_child(
            args.memory_child,
            args.config,
            args.subset,
            args.batch_size,
            args.threads,
            args.memory_steps,
            references,
            args.precision,
        )
        print(json.dumps(out), flush=True)
        return 0
    run(args, references, command)
    return 0
