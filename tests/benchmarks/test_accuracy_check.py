"""benchmarks.accuracy_check's plain layer-by-layer paths, and the one switch they use:
:func:`regconv.bench.throughput.unfuse`."""

from __future__ import annotations

import json

import torch

from benchmarks.__main__ import main
from regconv import models
from regconv.bench.throughput import build_model, unfuse
from regconv.testing import random_molecules


def _switches(model: torch.nn.Module) -> list[bool]:
    return [m.fused for m in model.modules() if "fused" in vars(type(m))]


def test_unfuse_turns_every_fused_layer_off_and_keeps_the_outputs():
    torch.manual_seed(0)
    model = models.create("r3s2", hidden=8, layers=2, basis={"dim": 8}, table=None).double()
    batch = random_molecules(num_graphs=2, seed=3, dtype=torch.float64)
    with torch.no_grad():
        fused = model(batch)
    assert len(_switches(model)) >= 3 and all(_switches(model))
    assert unfuse(model) is model
    assert not any(_switches(model))
    with torch.no_grad():
        torch.testing.assert_close(model(batch), fused, rtol=1e-9, atol=1e-9)
    # the throughput spec key unfused=1 is the same switch
    built, options = build_model("r3s2:hidden=8,layers=1,basis.dim=8,unfused=1", "default")
    assert options["unfused"] and not any(_switches(built))


def test_accuracy_check_runs_the_unfused_path(capsys):
    argv = ["accuracy-check", "--steps", "1", "--subset", "4", "--val", "4", "--batch-size",
            "4", "--eval-every", "1", "--hidden", "8", "--paths", "table-unfused",
            "--no-cross-eval"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    (step,) = [r for r in lines if r.get("path") == "table-unfused"]
    assert step["table_step"] == 0.1 and step["step"] == 1
    assert "trained_table-unfused_evaluated_table_val_mae_meV" in lines[-1]


def test_accuracy_check_trains_each_path_in_each_precision(capsys):
    argv = ["accuracy-check", "--steps", "1", "--subset", "4", "--val", "4", "--batch-size",
            "4", "--eval-every", "1", "--hidden", "8", "--paths", "table", "--precisions",
            "fp32", "bf16", "--no-cross-eval"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    steps = {r["path"]: r for r in lines if "path" in r}
    assert steps.keys() == {"table", "table-bf16"}
    assert steps["table-bf16"]["precision"] == "bf16" and steps["table"]["precision"] == "fp32"
    assert all(r["val_mae_meV"] > 0 for r in steps.values())
    summary = lines[-1]
    assert {"trained_table_evaluated_table_val_mae_meV",
            "trained_table-bf16_evaluated_table_val_mae_meV"} <= summary.keys()  # fmt: skip
