"""The budget benchmark's records: their settings, ``results.json`` and ``table.md``.

Output
------
One JSON line per model on standard output (also for models skipped because they are already
finished), and in ``--out``:

- ``models/<spec>.json``: the record of each finished model (written atomically when it ends);
- ``results.json``: the settings, this invocation's machine and command line, and the records of
  every finished model;
- ``table.md``: model, space, params, molecules/s, steps, test MAE;
- ``logs/<spec>.log``: the output of each worker process (``--jobs`` > 1 only).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from regconv.bench.budget.specs import all_models, file_name

__all__ = [
    "differences",
    "json_line",
    "order_records",
    "read_json",
    "record_path",
    "render_table",
    "settings_of",
    "write_summary",
]


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """What must agree between records for them to be compared (and resumed)."""
    return {
        "dataset": "qm9",
        "scheme": "dimenet",
        "target": args.target,
        "minutes": float(args.minutes),
        "train_size": int(args.train_size),
        "test_size": int(args.test_size),
        "batch_size": int(args.batch_size),
        "seed": int(args.seed),
        "optimizer": "adamw",
        "lr": float(args.lr),
        "weight_decay": float(args.weight_decay),
        "schedule": "warm-up + cosine in the elapsed fraction of the time budget",
        "warmup_fraction": float(args.warmup_fraction),
        "min_lr_ratio": float(args.min_lr_ratio),
        "ema_decay": float(args.ema_decay),
        "gradient_clip_val": 10.0,
        "loss": "l1",
        "standardize": "mean/std of the training subset",
        "accelerator": args.accelerator,
        # only when it is not the default, so that older test-split records still resume
        **({"eval_split": args.eval_split} if args.eval_split != "test" else {}),
    }


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


def order_records(records: list[dict], requested: list[str]) -> list[dict]:
    """Records in the order of :func:`all_models`, then of the requested specs."""
    canon = {n: i for i, n in enumerate(all_models())}
    req = {s: i for i, s in enumerate(requested)}

    def key(r):
        return (canon.get(r["name"], len(canon)), req.get(r["model"], len(req)), r["model"])

    return sorted(records, key=key)


def _fmt_mae(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


def render_table(records: list[dict], settings: dict[str, Any], machine: dict, command: str) -> str:
    """``table.md``: the protocol in a few lines, the machine, the command and one row per model."""
    unit = records[0]["unit"] if records else ""
    s = settings
    lines = [
        f"# Same-budget QM9 comparison: {s['target']}, {s['minutes']:g} min per model",
        "",
        f"Train: first {s['train_size']} molecules of the dimenet train split; test: first "
        f"{s['test_size']} of the dimenet {s.get('eval_split', 'test')} split. "
        f"Batch {s['batch_size']}, seed {s['seed']}, "
        f"AdamW lr {s['lr']:g} unless listed otherwise below "
        f"(weight decay {s['weight_decay']:g}), warm-up "
        f"{100 * s['warmup_fraction']:g} % then cosine to {s['min_lr_ratio']:g} x lr over the "
        f"elapsed fraction of the budget, gradient clip 10, L1 on standardised targets, EMA "
        f"{s['ema_decay']:g} weights for the test.",
        "",
        f"Machine: {machine.get('cpu')} ({machine.get('logical_cpus')} logical CPUs), torch "
        f"{machine.get('torch')}, {machine.get('torch_threads')} torch thread(s), "
        f"{machine.get('date')}.",
        "",
        f"Command: `{command}`",
        "",
        f"| model | space | params | molecules/s | steps "
        f"| {s.get('eval_split', 'test')} MAE ({unit}) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in records:
        mps = r.get("molecules_per_s")
        lines.append(
            f"| {r['model']} | {r['space']} | {r['params']:,} | "
            f"{'-' if mps is None else f'{mps:.1f}'} | {r['steps']:,} | {_fmt_mae(r['test_mae'])} |"
        )
    lines += ["", "Model options:", ""]
    for r in records:
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items())
        lr = r.get("lr", s["lr"])  # records without "lr" ran at the common one
        extra = f"; lr {lr:g}; {r['torch_threads']} thread(s), {r['date']}"
        busy = r.get("load", {}).get("others_cpu_fraction")
        if busy is not None:
            extra += f", other processes' CPU share during training {busy:.2f}"
        lines.append(f"- `{r['model']}`: {opts or 'defaults'}{extra}")
    return "\n".join(lines) + "\n"


def write_summary(
    out: Path, settings: dict, requested: list[str], machine: dict, command: str
) -> list[dict]:
    """Collect ``out/models/*.json`` into ``results.json`` and ``table.md`` (atomically)."""
    from regconv.utils.io import atomic_write_text

    records = []
    for path in sorted((out / "models").glob("*.json")):
        rec = read_json(path)
        if rec and rec.get("finished") and rec.get("settings") == settings:
            records.append(rec)
    records = order_records(records, requested)
    doc = {
        "benchmark": "budget",
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


def json_line(record: dict, **extra) -> str:
    """A record (and ``extra`` keys) as one JSON line of the standard output."""
    return json.dumps({**record, **extra}, default=str)


def record_path(out: Path, spec: str) -> Path:
    """Where the record of ``spec`` lives in the output folder ``out``."""
    return out / "models" / f"{file_name(spec)}.json"
