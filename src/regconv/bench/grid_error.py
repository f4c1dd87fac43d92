"""Invariance error of the grid-fibre models against the grid size, on QM9 molecules.

    regconv bench grid-error [--molecules 64] [--rotations 4]

Models at random initialisation in float64, with every residual branch switched fully on
(``block={"layer_scale": 1}``, ``layer_scale=1`` for ``r3s2-edge``; at the default ``1e-6`` the
blocks barely contribute and the error would be understated). Error of a model:
``mean_b |f_b(R x) - f_b(x)|`` over molecules ``b`` and random rotations ``R``, relative to
``mean_b |f_b(x)|`` and to ``std_b f_b(x)`` (the signal a regression must resolve). Prints one
JSON line per configuration and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from torch_geometric.data import Batch

from regconv import models
from regconv.bench.options import applicable, combine
from regconv.geometry import random_rotation
from regconv.testing import transform_batch


def invariance_error(
    model: torch.nn.Module, batch, rotations: int, seed: int = 0
) -> tuple[float, float]:
    """``mean |f(Rx) - f(x)|`` over the graphs of ``batch`` and ``rotations`` draws, relative to
    ``mean |f(x)|`` and to the spread ``std_b f_b(x)`` of the output over the molecules."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ref = model(batch)
        errs = []
        for _ in range(rotations):
            moved = transform_batch(batch, rotation=random_rotation(gen, batch.pos.dtype))
            errs.append((model(moved) - ref).abs().mean())
        err = torch.stack(errs).mean()
        return float(err / ref.abs().mean()), float(err / ref.std())


def main(argv: list[str] | None = None, *, prog: str = "regconv bench grid-error") -> int:
    """``regconv bench grid-error``: one JSON line per fibre, then the Markdown table."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--molecules", type=int, default=64)
    parser.add_argument("--rotations", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=3)
    args = parser.parse_args(argv)

    from regconv.data import QM9

    data = QM9(split="test", scheme="dimenet", subset=args.molecules)
    batch = Batch.from_data_list([data[i] for i in range(len(data))])
    batch.pos = batch.pos.double()

    configs = [
        ("r3s2", {"space": {"num_orientations": o}}, f"R3S2, O = {o}") for o in (4, 8, 16, 32, 64)
    ]
    configs += [
        ("se3", {"space": {"group": g}}, f"SE3, {g} ({n})")
        for g, n in (("tetrahedral", 12), ("octahedral", 24), ("icosahedral", 60))
    ]
    configs += [("r3", {}, "R3 (exact)"), ("r3s2-edge", {}, "R3S2 edge fibre (exact)")]
    common = {"hidden": args.hidden, "layers": args.layers, "block": {"layer_scale": 1.0}}
    rows = []
    for name, extra, label in configs:
        torch.manual_seed(0)
        model = models.create(name, **combine(applicable(name, common), extra))
        model = model.double().eval()
        t0 = time.perf_counter()
        rel_mean, rel_std = invariance_error(model, batch, args.rotations)
        rec = {
            "model": name,
            "config": label,
            "error_vs_mean_abs": rel_mean,
            "error_vs_std": rel_std,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        print(json.dumps(rec), flush=True)
        rows.append(rec)
    print(f"\n<!-- {platform.node()} {time.strftime('%Y-%m-%d')} torch {torch.__version__} -->")
    print("| fibre | error / mean abs output | error / output spread over molecules |")
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['error_vs_mean_abs']:.2e} | {r['error_vs_std']:.2e} |")
    return 0
