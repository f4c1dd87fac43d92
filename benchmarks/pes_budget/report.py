"""The energy + force budget benchmark's table: ``table.md`` (the records:
:mod:`benchmarks.budget_core`)."""

from __future__ import annotations

__all__ = ["render_table"]


def render_table(records: list[dict], settings=None, machine=None, command=None) -> str:
    """A Markdown table: one row per model, in the order given (the other arguments, those of
    :attr:`benchmarks.budget_core.Harness.render_table`, are not shown). Training minutes are
    the training's: MACE's ``train_epochs_s`` (its epochs without its validations) where the
    cap recorded one, else its ``train_loop_s`` where its log gave one."""
    split = (settings or {}).get("eval_split", "test")
    stress = any("test_mae_stress" in r for r in records)
    head = (
        f"| model | params | steps | epochs | train min | {split} frames "
        "| force MAE (meV/Å) | energy MAE (meV) | energy MAE (meV/atom) |"
        + (" stress MAE (meV/Å³) |" if stress else "")
        + "\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        + ("---:|" if stress else "")
        + "\n"
    )
    rows = [
        f"| {r['model']} | {r['params']:,} | {r['steps']:,} | {r['epochs']} "
        f"| {(r.get('train_epochs_s') or r.get('train_loop_s') or r['train_s']) / 60:.1f} "
        f"| {r['test_count']:,} "
        f"| {r['test_mae_forces']:.1f} "
        f"| {r['test_mae_energy']:.1f} | {r['test_mae_energy_per_atom']:.2f} |"
        + (f" {r['test_mae_stress']:.3f} |" if stress and "test_mae_stress" in r else "")
        + (" |" if stress and "test_mae_stress" not in r else "")
        for r in records
    ]
    return head + "\n".join(rows) + "\n"
