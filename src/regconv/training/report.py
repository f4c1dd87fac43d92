"""Run artefacts: merged CSV metrics, learning-curve and parity plots, ``results.json``.

Plots use matplotlib's Agg backend (no display needed). All files are written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regconv.utils.io import atomic_write_bytes, atomic_write_text

__all__ = [
    "MAX_DRAWN",
    "ParityPanel",
    "format_table",
    "plot_learning_curves",
    "plot_parity",
    "plot_parity_panels",
    "read_metrics",
    "write_json",
]


def _float(v: str) -> float | None:
    if v is None or v == "":
        return None
    try:
        return float(v)
    except ValueError:
        return None


def read_metrics(log_root: str | Path) -> list[dict[str, float]]:
    """Rows of every ``version_*/metrics.csv`` under ``log_root``, merged in version order.

    A resumed run logs into a new version; rows of an earlier version at or after the first step
    of a later one are dropped (they were recomputed after the resume).
    """
    root = Path(log_root)
    if not root.is_dir():
        return []

    def version_key(p: Path) -> tuple[int, str]:
        tail = p.parent.name.rsplit("_", 1)[-1]
        return (int(tail) if tail.isdigit() else -1, p.parent.name)

    files = sorted(root.glob("version_*/metrics.csv"), key=version_key)
    runs: list[list[dict[str, float]]] = []
    for f in files:
        with open(f, newline="") as fh:
            rows = []
            for raw in csv.DictReader(fh):
                row = {k: _float(v) for k, v in raw.items() if k}
                rows.append({k: v for k, v in row.items() if v is not None})
            runs.append(rows)
    merged: list[dict[str, float]] = []
    for i, rows in enumerate(runs):
        later = [r.get("step") for run in runs[i + 1 :] for r in run if "step" in r]
        cut = min(later) if later else math.inf
        merged.extend(r for r in rows if r.get("step", -math.inf) < cut)
    return merged


def _series(rows: list[dict[str, float]], key: str, x: str = "step") -> tuple[list, list]:
    pts = sorted((r[x], r[key]) for r in rows if key in r and x in r)
    return [p[0] for p in pts], [p[1] for p in pts]


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def plot_learning_curves(
    rows: list[dict[str, float]], path: str | Path, title: str = ""
) -> Path | None:
    """Training and validation loss (standardised units) against the optimizer step, and the
    validation MAE of every target against the epoch. Returns ``path``, or ``None`` if there
    is nothing to plot."""
    if not rows:
        return None
    plt = _figure()
    mae_keys = sorted({k for r in rows for k in r if k.startswith("val/mae_")})
    ncols = 2 if mae_keys else 1
    fig, axes = plt.subplots(1, ncols, figsize=(6.0 * ncols, 4.2), squeeze=False)
    ax = axes[0][0]
    plotted = False
    for key, label, style in (
        ("train/loss_step", "train (step)", dict(alpha=0.35, lw=0.8)),
        ("train/loss_epoch", "train (epoch mean)", dict(marker="o", ms=3)),
        ("val/loss", "val (EMA weights)", dict(marker="s", ms=3)),
    ):
        xs, ys = _series(rows, key)
        if xs:
            ax.plot(xs, ys, label=label, **style)
            plotted = True
    if not plotted:
        plt.close(fig)
        return None
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (standardised targets)")
    if all(v > 0 for r in rows for k, v in r.items() if k.endswith("loss") or "loss_" in k):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if mae_keys:
        ax2 = axes[0][1]
        for key in mae_keys:
            xs, ys = _series(rows, key, x="epoch")
            ax2.plot(xs, ys, marker="o", ms=3, label=key.removeprefix("val/mae_"))
        ax2.set_xlabel("epoch")
        ax2.set_ylabel("validation MAE (unit in the label)")
        ax2.set_yscale("log")
        ax2.grid(alpha=0.3)
        ax2.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)
    plt.close(fig)
    return Path(path)


def plot_parity(
    pred,
    true,
    names: Sequence[str],
    units: Sequence[str],
    path: str | Path,
    maes: Sequence[float] | None = None,
    title: str = "",
) -> Path | None:
    """Predicted against true values, one panel per target (``pred``/``true``: ``[I, T]`` or,
    for one vector target, ``[I, 3]``: all components in one panel)."""
    import numpy as np

    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(true, dtype=np.float64)
    if p.size == 0:
        return None
    n = len(names)
    if n == 1 and p.ndim == 2 and p.shape[1] != 1:
        p, t = p.reshape(-1, 1), t.reshape(-1, 1)
    panels = [
        ParityPanel(p[:, j], t[:, j], names[j], units[j], None if maes is None else maes[j])
        for j in range(n)
    ]
    return plot_parity_panels(panels, path, title)


@dataclass(frozen=True)
class ParityPanel:
    """One panel of a parity plot: predictions and truths (any shape, all values in one panel),
    the quantity's name and unit, and its MAE to print (None: none)."""

    pred: Any
    true: Any
    name: str
    unit: str = ""
    mae: float | None = None


#: the most points a panel draws (an evenly spaced subset of larger sets; the title says so)
MAX_DRAWN = 50_000


def plot_parity_panels(
    panels: Sequence[ParityPanel], path: str | Path, title: str = ""
) -> Path | None:
    """Predicted against true values, one panel each (side by side, at most four a row), for
    quantities with different item counts (e.g. the energies of the molecules beside the force
    components of their atoms). None, and nothing written, when every panel is empty."""
    import numpy as np

    data = [(np.asarray(q.pred, np.float64).ravel(), np.asarray(q.true, np.float64).ravel())
            for q in panels]  # fmt: skip
    if not panels or all(p.size == 0 for p, _ in data):
        return None
    plt = _figure()
    n = len(panels)
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 4.0 * nrows), squeeze=False)
    for j in range(nrows * ncols):
        ax = axes[j // ncols][j % ncols]
        if j >= n or data[j][0].size == 0:
            ax.axis("off")
            continue
        panel, (y, x) = panels[j], data[j]
        count = x.shape[0]
        if count > MAX_DRAWN:
            keep = np.linspace(0, count - 1, MAX_DRAWN).round().astype(np.int64)
            x, y = x[keep], y[keep]
        ax.scatter(x, y, s=10 if x.shape[0] <= 2000 else 3, alpha=0.5, linewidths=0)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        unit = f" [{panel.unit}]" if panel.unit else ""
        ax.set_xlabel(f"true {panel.name}{unit}")
        ax.set_ylabel(f"predicted {panel.name}{unit}")
        label = f"{panel.name}: n={count}"
        if count > MAX_DRAWN:
            label += f" ({MAX_DRAWN} drawn)"
        if panel.mae is not None:
            label += f", MAE {panel.mae:.4g}{(' ' + panel.unit) if panel.unit else ''}"
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()  # no panel's labels over its neighbour's
    _save(fig, path)
    plt.close(fig)
    return Path(path)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with aligned columns."""
    cells = [[str(h) for h in header]] + [[_cell(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cell(c: Any) -> str:
    if isinstance(c, float):
        return f"{c:.6g}"
    return str(c)
