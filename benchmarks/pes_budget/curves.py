"""The learning curves of energy + force budget runs, side by side: ``python -m benchmarks
pes-curves``.

::

    python -m benchmarks pes-curves runs/pes-aspirin-m15-seed0 runs/pes-aspirin-m15-seed1 \\
        --out docs/figures/pes_curves_aspirin.png [--models r3s2 r3 mace]

Reads the ``results.json`` of each run directory (records of :mod:`benchmarks.pes_budget`;
their ``curve``: validation force MAE at every epoch's end) and draws the validation force MAE
against epochs and against training seconds, log scale, one colour per model and one line per
run (seed). A table of the final points goes to stdout. Records without a curve (runs before
curves were recorded) are named and left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["collect", "main", "plot"]


def collect(runs: list[Path], models: list[str] | None) -> tuple[list[dict], list[str]]:
    """The records with a curve from ``runs`` (of ``models`` when given) and the
    ``run: model`` names of those without one."""
    found, missing = [], []
    for run in runs:
        path = Path(run) / "results.json"
        if not path.is_file():
            raise ValueError(f"{path}: no results.json (not a pes-budget run directory)")
        doc = json.loads(path.read_text())
        seed = doc.get("settings", {}).get("seed")
        for rec in doc.get("models", []):
            if models and rec["model"] not in models:
                continue
            if rec.get("curve"):
                found.append({**rec, "run": str(run), "seed": seed})
            else:
                missing.append(f"{run}: {rec['model']}")
    return found, missing


def plot(records: list[dict], out: Path, title: str | None = None) -> None:
    """Validation force MAE against epochs (left) and seconds (right); written atomically."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from regconv.utils.io import atomic_write

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    colours: dict[str, str] = {}
    for rec in records:
        label = None if rec["model"] in colours else rec["model"]  # one legend entry a model
        colour = colours.setdefault(rec["model"], f"C{len(colours)}")
        for ax, key in zip(axes, ("epoch", "seconds"), strict=True):
            x = [p[key] / (60.0 if key == "seconds" else 1.0) for p in rec["curve"]]
            y = [p["mae_forces"] for p in rec["curve"]]
            ax.plot(x, y, color=colour, lw=1.2, alpha=0.85, label=label)
    for ax, name in zip(axes, ("epochs", "training minutes"), strict=True):
        ax.set_xlabel(name)
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("validation force MAE (meV/Å)")
    axes[0].legend(frameon=False)
    if title:
        fig.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "wb") as fh:
        fig.savefig(fh, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Draw the curves; exit code 2 on bad arguments or no curve."""
    p = argparse.ArgumentParser(prog="python -m benchmarks pes-curves", description=__doc__)
    p.add_argument("runs", nargs="+", type=Path, help="pes-budget run directories")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.add_argument("--models", nargs="+", default=None, help="only these model specs")
    p.add_argument("--title", default=None)
    args = p.parse_args(argv)
    try:
        records, missing = collect(args.runs, args.models)
    except ValueError as e:
        p.error(str(e))
    for name in missing:
        print(f"no curve (recorded before curves were): {name}", file=sys.stderr)
    if not records:
        p.error("no record with a learning curve in these runs")
    plot(records, args.out, args.title)
    print("| run | model | epochs | minutes | last validation force MAE (meV/Å) |")
    print("|---|---|---:|---:|---:|")
    for rec in records:
        last = rec["curve"][-1]
        print(f"| {rec['run']} | {rec['model']} | {last['epoch']:g} | {last['seconds'] / 60:.1f} "
              f"| {last['mae_forces']:.1f} |")  # fmt: skip
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
