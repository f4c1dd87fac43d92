"""The records of a same-budget run and their summary.

In the output folder ``--out``:

- ``models/<spec>.json``: the record of each finished model (written atomically when it ends;
  it carries the run's ``settings`` and ``finished: true``);
- ``results.json``: the settings, this invocation's machine and command line, and the records of
  every finished model of these settings in the folder;
- ``table.md``: the harness's table of them;
- ``logs/<spec>.log``: the output of each worker process (``--jobs`` > 1 only).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "differences",
    "file_name",
    "json_line",
    "order_by_request",
    "read_json",
    "record_path",
    "run_facts",
    "write_summary",
]


def file_name(spec: str) -> str:
    """The spec as a file name (``models/<file_name>.json``, ``logs/<file_name>.log``)."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", spec).strip("_") or "model"


def record_path(out: Path, spec: str) -> Path:
    """Where the record of ``spec`` lives in the output folder ``out``."""
    return out / "models" / f"{file_name(spec)}.json"


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON document in ``path``, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def differences(a: dict, b: dict) -> str:
    """``"key: a vs b, ..."`` for the keys where two settings (or option) dicts differ."""
    keys = sorted(set(a) | set(b))
    return ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}" for k in keys if a.get(k) != b.get(k))


def json_line(record: dict, **extra) -> str:
    """A record (and ``extra`` keys) as one JSON line of the standard output."""
    return json.dumps({**record, **extra}, default=str)


def run_facts(load: dict, command: str) -> dict[str, Any]:
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


def order_by_request(records: list[dict], requested: list[str]) -> list[dict]:
    """Records in the order of the requested specs, then the others by spec."""
    req = {s: i for i, s in enumerate(requested)}
    return sorted(records, key=lambda r: (req.get(r["model"], len(req)), r["model"]))


def write_summary(
    out: Path,
    *,
    benchmark: str,
    settings: dict,
    requested: list[str],
    machine: dict,
    command: str,
    order: Callable[[list[dict], list[str]], list[dict]],
    render_table: Callable[[list[dict], dict, dict, str], str],
) -> list[dict]:
    """Collect the finished records of ``settings`` in ``out/models`` (in ``order``) into
    ``results.json`` and ``table.md`` (``render_table(records, settings, machine, command)``),
    both written atomically; returns the records."""
    from regconv.utils.io import atomic_write_text

    records = []
    for path in sorted((out / "models").glob("*.json")):
        rec = read_json(path)
        if rec and rec.get("finished") and rec.get("settings") == settings:
            records.append(rec)
    records = order(records, requested)
    doc = {
        "benchmark": benchmark,
        "settings": settings,
        "command": command,
        "machine": machine,
        "date": machine.get("date"),
        "torch_threads": machine.get("torch_threads"),
        "models": records,
    }
    atomic_write_text(out / "results.json", json.dumps(doc, indent=1, default=str) + "\n")
    atomic_write_text(out / "table.md", render_table(records, settings, machine, command))
    return records
