"""What a ``regconv fit|validate|test`` run leaves behind: ``results.json``, its plots and the
summary printed at the end."""

from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path
from typing import Any

__all__ = ["make_plots", "run_record", "summary", "versions"]


def make_plots(task, run_dir: Path, run_name: str, subcommand: str) -> dict[str, str]:
    """The learning curves (``fit``) and the test parity plot (where there is a test; energy +
    force runs: the energies beside the force components) of a run, in ``<run_dir>/plots``;
    ``{label: path}`` of those written."""
    from regconv.training import report

    plots: dict[str, str] = {}
    if subcommand == "fit":
        rows = report.read_metrics(run_dir / "logs")
        p = report.plot_learning_curves(
            rows, run_dir / "plots" / "learning_curves.png", title=run_name
        )
        if p is not None:
            plots["learning_curves"] = str(p)
    test = task.last_results.get("test")
    if test is not None and test["pred"].numel():
        path, title = run_dir / "plots" / "parity_test.png", f"{run_name}: test"
        names, units = task.spec.names, task.spec.units
        if task.spec.kind == "energy_forces":  # energies per molecule, force (stress) components
            prefixes = ("", "force_", "stress_")[: len(names)]
            panels = [
                report.ParityPanel(test[f"{prefix}pred"], test[f"{prefix}true"], name, unit,
                                   test["targets"][name]["mae"])
                for prefix, name, unit in zip(prefixes, names, units, strict=True)
            ]  # fmt: skip
            p = report.plot_parity_panels(panels, path, title=title)
        else:
            maes = [test["targets"][n]["mae"] for n in names]
            p = report.plot_parity(
                test["pred"].numpy(), test["true"].numpy(), names, units, path, maes, title
            )
        if p is not None:
            plots["parity_test"] = str(p)
    return plots


def run_record(
    *,
    command: str,
    run_dir: Path,
    task,
    trainer,
    datamodule,
    best_score,
    seed: int | None,
    checkpoint: str | None,
    times: dict[str, float],
    plots: dict[str, str],
) -> dict[str, Any]:
    """The content of ``results.json``: the run, its model, task, split, metrics and times."""
    from regconv.training.evaluation import PAIR_KEYS

    results = task.last_results
    dm = datamodule
    try:
        split = dm.split_info() if hasattr(dm, "split_info") else None
    except Exception as e:  # never lose the results for the record
        split = {"error": f"{type(e).__name__}: {e}"}
    clean = {
        stage: {k: v for k, v in res.items() if k not in PAIR_KEYS}
        for stage, res in results.items()
    }
    return {
        "command": command,
        "run_dir": str(run_dir),
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        "seed": seed,
        "model": task.hparams.model,
        "model_options": dict(task.hparams.model_options or {}),
        "num_parameters": int(sum(p.numel() for p in task.net.parameters())),
        "task": task.spec.to_dict(),
        "checkpoint": checkpoint,
        "weights": "ema" if task.ema is not None else "raw",
        "best_val_loss": float(best_score) if best_score is not None else None,
        "epochs": int(trainer.current_epoch),
        "global_step": int(trainer.global_step),
        "world_size": int(trainer.world_size),
        "wall_time_s": times,
        "split": split,
        "plots": plots,
        **clean,
        "versions": versions(),
    }


def summary(out: dict[str, Any]) -> str:
    """The lines printed at the end of a run: its folder, the test (else validation) table,
    the plots, ``results.json`` and the wall times."""
    from regconv.training import report

    lines = [f"run folder: {out['run_dir']}"]
    for stage in ("test", "validate"):
        key = "test" if stage == "test" else "val"
        res = out.get(key)
        if res is None:
            continue
        rows = []
        for name, m in res["targets"].items():
            rows.append([name, m["mae"], m["rmse"], m["unit"] or "-"])
        where = out["checkpoint"] or "final weights"
        lines.append(
            f"{key} set ({res['count']} items, {out['weights'].upper()} weights of {where}):"
        )
        lines.append(report.format_table(["target", "MAE", "RMSE", "unit"], rows))
        break
    for label, path in out["plots"].items():
        lines.append(f"plot {label}: {path}")
    lines.append(f"results: {Path(out['run_dir']) / 'results.json'}")
    wt = out["wall_time_s"]
    lines.append("wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in wt.items()))
    return "\n".join(lines)


def versions() -> dict[str, str]:
    """The versions of regconv, torch, Lightning, PyG and Python (for ``results.json``)."""
    import lightning
    import torch
    import torch_geometric

    import regconv

    return {
        "regconv": regconv.__version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torch_geometric": torch_geometric.__version__,
        "python": platform.python_version(),
    }
