"""The budget benchmark's table: ``table.md`` (the records: :mod:`benchmarks.budget_core`)."""

from __future__ import annotations

from typing import Any

from benchmarks.budget.specs import all_models

__all__ = ["order_records", "render_table"]


def order_records(records: list[dict], requested: list[str]) -> list[dict]:
    """Records in the order of :func:`~benchmarks.budget.specs.all_models`, then of the
    requested specs."""
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
