"""Records of the energy + force budget benchmark: ``results.json`` and ``table.md``."""

from __future__ import annotations

import json
from pathlib import Path

from regconv.bench.budget.report import read_json, record_path

__all__ = ["render_table", "run_facts", "write_summary"]


def run_facts(load: dict, command: str) -> dict:
    """The fields every record ends with: CPU load, command, date, threads, machine."""
    import torch

    from regconv.bench import machine_info

    machine = machine_info()
    return {
        "load": load,
        "command": command,
        "date": machine["date"],
        "torch_threads": torch.get_num_threads(),
        "machine": machine,
        "finished": True,
    }


def render_table(records: list[dict]) -> str:
    """A Markdown table: one row per model, in the order given."""
    head = (
        "| model | params | steps | epochs | train min | test frames "
        "| force MAE (meV/Å) | energy MAE (meV) | energy MAE (meV/atom) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    rows = [
        f"| {r['model']} | {r['params']:,} | {r['steps']:,} | {r['epochs']} "
        f"| {r['train_s'] / 60:.1f} | {r['test_count']:,} | {r['test_mae_forces']:.1f} "
        f"| {r['test_mae_energy']:.1f} | {r['test_mae_energy_per_atom']:.2f} |"
        for r in records
    ]
    return head + "\n".join(rows) + "\n"


def write_summary(out: Path, settings: dict, specs: list[str], command: str) -> list[dict]:
    """Collect the finished records of ``specs`` into ``results.json`` and ``table.md``."""
    from regconv.bench import machine_info
    from regconv.utils.io import atomic_write_text

    records = []
    for spec in specs:
        rec = read_json(record_path(out, spec))
        if rec and rec.get("finished") and rec.get("settings") == settings:
            records.append(rec)
    doc = {"settings": settings, "command": command, "machine": machine_info(), "models": records}
    atomic_write_text(out / "results.json", json.dumps(doc, indent=1, default=str) + "\n")
    atomic_write_text(out / "table.md", render_table(records))
    return records
