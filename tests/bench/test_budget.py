"""regconv.bench.budget: the same-budget QM9 comparison (tiny budgets, tiny models, in-process)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from regconv.bench.budget import TimeWarmupCosine, parse_spec, spec_options
from regconv.bench.references import PyGSchNet
from regconv.cli.main import main as regconv_main
from regconv.testing import assert_equivariant, random_molecules

MODELS = [
    "r3:hidden=8,layers=1,basis_dim=8",
    "schnet:hidden=8,layers=1",
    "schnet-pyg:hidden=16,interactions=1",
]


def _args(out, minutes="0.02", models=MODELS):
    common = "--target homo --train-size 48 --test-size 24 --batch-size 16 --seed 0"
    return ["bench", "budget", "--minutes", minutes, *common.split(), "--out", str(out),
            "--models", *models]  # fmt: skip


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_budget_run_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / "budget"
    assert regconv_main(_args(out)) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert [r["model"] for r in lines] == MODELS
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["models"]] == MODELS
    assert doc["settings"]["minutes"] == 0.02 and doc["settings"]["train_size"] == 48
    assert doc["command"].startswith("regconv bench budget --minutes 0.02")
    assert doc["machine"]["torch_threads"] >= 1 and doc["date"]
    for r in doc["models"]:
        assert math.isfinite(r["test_mae"]) and r["unit"] == "meV" and r["test_count"] == 24
        assert r["steps"] >= 1 and r["params"] > 0 and r["molecules_per_s"] > 0
        assert r["final_lr_multiplier"] < 0.05  # the cosine ran to (near) its end
    assert doc["models"][2]["kind"] == "pyg-reference"
    table = (out / "table.md").read_text()
    assert "| model | space | params | molecules/s | steps | test MAE (meV) |" in table
    for spec in MODELS:
        assert f"| {spec} |" in table

    # resume: nothing is retrained, the finished records are reported again
    before = {p.name: p.read_text() for p in (out / "models").glob("*.json")}
    assert regconv_main(_args(out)) == 0
    again = _json_lines(capsys.readouterr().out)
    assert [r["model"] for r in again] == MODELS and all(r["resumed"] for r in again)
    assert {p.name: p.read_text() for p in (out / "models").glob("*.json")} == before

    # an interrupted run (one record missing) retrains only the missing model
    missing = sorted((out / "models").glob("schnet_*.json"))[0]
    missing.unlink()
    assert regconv_main(_args(out)) == 0
    third = _json_lines(capsys.readouterr().out)
    assert {r["model"]: r.get("resumed", False) for r in third} == {
        MODELS[0]: True,
        MODELS[1]: False,
        MODELS[2]: True,
    }
    assert missing.exists()
    assert {p.name: p.read_text() for p in (out / "models").glob("*.json") if p != missing} == {
        k: v for k, v in before.items() if k != missing.name
    }

    # other settings in the same folder are refused
    assert regconv_main(_args(out, minutes="0.03")) == 2
    assert "other settings" in capsys.readouterr().err


def test_bad_model_specs_are_usage_errors(tmp_path, capsys):
    assert regconv_main(_args(tmp_path, models=["nope"])) == 2
    assert "schnet-pyg" in capsys.readouterr().err  # the references are listed as valid names
    assert regconv_main(_args(tmp_path, models=["r3:nope=1"])) == 2
    assert regconv_main(_args(tmp_path, models=["schnet-pyg:layers=2"])) == 2


def test_model_specs_and_defaults():
    assert parse_spec("r3s2:num_orientations=16,kernel=full") == (
        "r3s2",
        {"num_orientations": 16, "kernel": "full"},
    )
    name, opts = spec_options("r3s2")
    assert name == "r3s2" and opts["hidden"] == 64 and opts["cutoff"] == 5.0
    assert spec_options("r3")[1]["hidden"] == spec_options("se3")[1]["hidden"]
    assert spec_options("schnet-pyg") == (
        "schnet-pyg",
        {"hidden": 128, "interactions": 6, "cutoff": 5.0},
    )
    assert spec_options("dimenet++-pyg", hidden=64)[1]["hidden"] == 64


def test_time_fraction_schedule():
    s = TimeWarmupCosine(budget_s=100.0, warmup_fraction=0.1, min_ratio=0.0)
    assert s(0) == pytest.approx(0.01)  # not started: f = 0
    assert s.multiplier(0.05) == pytest.approx(0.01 + 0.99 * 0.5)
    assert s.multiplier(0.1) == pytest.approx(1.0)
    assert s.multiplier(0.55) == pytest.approx(0.5)
    assert s.multiplier(1.0) == pytest.approx(0.0, abs=1e-12)
    vals = [s.multiplier(f / 100) for f in range(10, 101)]
    assert all(a >= b for a, b in zip(vals, vals[1:], strict=False))
    s.start()
    assert 0.0 <= s.fraction() < 0.01
    with pytest.raises(ValueError):
        TimeWarmupCosine(budget_s=0.0)


def test_pyg_schnet_adapter_is_invariant():
    torch.manual_seed(0)
    model = PyGSchNet(num_outputs=1, hidden=16, interactions=2, cutoff=5.0).double()
    batch = random_molecules(num_graphs=3, dtype=torch.float64, seed=1)
    assert model(batch).shape == (3, 1)
    assert_equivariant(model, batch, tol=1e-8)


def test_pyg_schnet_adapter_can_average_over_atoms():
    torch.manual_seed(0)
    total = PyGSchNet(hidden=16, interactions=2).double()
    torch.manual_seed(0)
    mean = PyGSchNet(hidden=16, interactions=2, readout="mean").double()
    batch = random_molecules(num_graphs=3, dtype=torch.float64, seed=2)
    counts = torch.bincount(batch.batch).double().unsqueeze(-1)
    assert torch.allclose(mean(batch) * counts, total(batch), atol=1e-10)
    with pytest.raises(ValueError, match="readout"):
        PyGSchNet(readout="max")


def test_budget_can_evaluate_on_validation_molecules(tmp_path, capsys):
    out = tmp_path / "budget"
    model = ["schnet:hidden=8,layers=1"]
    assert regconv_main(_args(out, models=model) + ["--eval-split", "val"]) == 0
    (record,) = _json_lines(capsys.readouterr().out)
    assert record["eval_split"] == "val" and record["test_count"] == 24
    assert record["settings"]["eval_split"] == "val"
    table = (out / "table.md").read_text()
    assert "first 24 of the dimenet val split" in table and "| val MAE (meV) |" in table
    # a test-split run cannot be mixed into the same folder
    assert regconv_main(_args(out, models=model)) == 2
    assert "other settings" in capsys.readouterr().err
