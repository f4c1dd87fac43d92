"""benchmarks.budget: the same-budget QM9 comparison (tiny budgets, tiny models, in-process)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from benchmarks.__main__ import main as benchmarks_main
from benchmarks.budget import parse_spec, spec_options
from benchmarks.references import PyGSchNet
from regconv.testing import assert_equivariant, random_molecules
from regconv.training.optim import TimeWarmupCosine

MODELS = [
    "r3:hidden=8,layers=1,basis.dim=8",
    "schnet:hidden=8,layers=1",
    "schnet-pyg:hidden=16,interactions=1",
]


def _args(out, minutes="0.02", models=MODELS):
    common = "--target homo --train-size 48 --test-size 24 --batch-size 16 --seed 0"
    return ["budget", "--minutes", minutes, *common.split(), "--out", str(out),
            "--models", *models]  # fmt: skip


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_budget_run_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / "budget"
    assert benchmarks_main(_args(out)) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert [r["model"] for r in lines] == MODELS
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["models"]] == MODELS
    assert doc["settings"]["minutes"] == 0.02 and doc["settings"]["train_size"] == 48
    assert doc["command"].startswith("python -m benchmarks budget --minutes 0.02")
    assert doc["machine"]["torch_threads"] >= 1 and doc["date"]
    assert doc["benchmark"] == "budget" and all(r["benchmark"] == "budget" for r in lines)
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
    assert benchmarks_main(_args(out)) == 0
    again = _json_lines(capsys.readouterr().out)
    assert [r["model"] for r in again] == MODELS and all(r["resumed"] for r in again)
    assert {p.name: p.read_text() for p in (out / "models").glob("*.json")} == before

    # an interrupted run (one record missing) retrains only the missing model
    missing = sorted((out / "models").glob("schnet_*.json"))[0]
    missing.unlink()
    assert benchmarks_main(_args(out)) == 0
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
    assert benchmarks_main(_args(out, minutes="0.03")) == 2
    assert "other settings" in capsys.readouterr().err


def test_bad_model_specs_are_usage_errors(tmp_path, capsys):
    assert benchmarks_main(_args(tmp_path, models=["nope"])) == 2
    assert "schnet-pyg" in capsys.readouterr().err  # the references are listed as valid names
    assert benchmarks_main(_args(tmp_path, models=["r3:nope=1"])) == 2
    assert benchmarks_main(_args(tmp_path, models=["schnet-pyg:layers=2"])) == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ema-decay", "1.5"], "--ema-decay must be in [0, 1)"),
        (["--ema-decay", "-0.1"], "--ema-decay must be in [0, 1)"),
        (["--warmup-fraction", "1"], "--warmup-fraction must be in [0, 1)"),
        (["--min-lr-ratio", "1.5"], "--min-lr-ratio must be in [0, 1]"),
        (["--min-lr-ratio", "nan"], "--min-lr-ratio must be in [0, 1]"),
        (["--models", "schnet", "r3", "schnet"], "--models: a model is listed twice: schnet"),
        (["--jobs", "0"], "--jobs must be"),
    ],
)
@pytest.mark.parametrize(
    "harness",
    [["budget", "--train-size", "64"], ["pes-budget", "--path", "toy.npz"]],
    ids=["budget", "pes-budget"],
)
def test_both_budgets_check_their_run_arguments_alike(harness, extra, message, capsys):
    assert benchmarks_main([*harness, "--minutes", "1", *extra]) == 2
    assert message in capsys.readouterr().err


def test_budget_task_takes_its_options_by_keyword():
    import inspect

    from benchmarks.budget_core import BudgetTask

    params = inspect.signature(BudgetTask).parameters
    assert list(params)[:3] == ["model", "model_options", "task"]
    assert all(p.kind is p.KEYWORD_ONLY for p in list(params.values())[3:])
    with pytest.raises(TypeError):
        BudgetTask("r3", None, None, "adamw")


def test_model_specs_and_defaults():
    assert parse_spec("r3s2:space.num_orientations=16,block.kind=full") == (
        "r3s2",
        {"space": {"num_orientations": 16}, "block": {"kind": "full"}},
    )
    assert parse_spec("r3s2:num_orientations=16,kernel=full") == parse_spec(
        "r3s2:space.num_orientations=16,block.kind=full"
    )  # the flat spelling of earlier releases
    name, opts = spec_options("r3s2")  # the seed's model at its validated options
    assert name == "r3s2" and opts["hidden"] == 32 and opts["cutoff"] == 4.0
    assert opts["layers"] == 4 and opts["space"]["num_orientations"] == 4
    assert opts["readout"] == {"pooling": "mean", "hidden": 64}
    assert opts["table"]["order"] == "linear" and opts["basis"]["dim"] == 32
    assert spec_options("r3s2:hidden=48")[1]["hidden"] == 48
    # a component's option merges into the benchmark's component
    opts = spec_options("r3s2:table.order=cubic,readout.hidden=16")[1]
    assert opts["table"] == {"step": 0.1, "order": "cubic"}
    assert opts["readout"] == {"pooling": "mean", "hidden": 16}
    assert spec_options("r3s2:table_order=cubic") == spec_options("r3s2:table.order=cubic")
    assert spec_options("r3s2:table_step=None")[1]["table"] is None
    assert spec_options("r3s2-attention")[1]["hidden"] == 64
    assert spec_options("r3s2-attention")[1]["cutoff"] == 5.0
    assert spec_options("r3s2-attention")[1]["space"] == {"num_orientations": 8}
    assert spec_options("r3")[1]["hidden"] == spec_options("se3")[1]["hidden"]
    assert spec_options("r3")[1]["basis"] == {"dim": 64} == spec_options("se3")[1]["basis"]
    assert spec_options("r3s2-edge")[1]["basis_dim"] == 64  # its flat option
    assert "basis" not in spec_options("schnet")[1]
    assert spec_options("schnet-pyg") == (
        "schnet-pyg",
        {"hidden": 128, "interactions": 6, "cutoff": 5.0},
    )
    assert spec_options("dimenet++-pyg", hidden=64)[1]["hidden"] == 64


def test_the_seed_models_row_is_the_registered_preset():
    # one home of r3s2's chosen options: the preset r3s2-qm9, with the budget's depth and cutoff
    from regconv import models

    name, opts = spec_options("r3s2")
    batch = random_molecules(num_graphs=3, seed=4, dtype=torch.float32)
    built = []
    for model, options in ((name, opts), ("r3s2-qm9", {"layers": 4, "cutoff": 4.0})):
        torch.manual_seed(0)
        built.append(models.create(model, **options).eval())
    row, preset = (m.state_dict() for m in built)
    assert [(k, v.shape) for k, v in row.items()] == [(k, v.shape) for k, v in preset.items()]
    assert all(torch.equal(row[k], preset[k]) for k in row)
    with torch.no_grad():
        assert torch.equal(built[0](batch), built[1](batch))


def test_every_listed_model_has_a_space_and_presets_are_not_listed_twice():
    from benchmarks.budget import PRESET_ROWS, SPACES, all_models

    listed = all_models()
    assert "r3s2" in listed and "r3s2-qm9" not in listed and PRESET_ROWS == {"r3s2-qm9": "r3s2"}
    assert all(name in SPACES for name in listed + list(PRESET_ROWS))
    assert spec_options("r3s2-qm9:layers=4,cutoff=4.0")[0] == "r3s2-qm9"  # still runs by name


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


def test_records_of_earlier_releases_resume(tmp_path, capsys):
    # records written before the per-model rate ran at --lr and had no "lr": they resume
    out = tmp_path / "budget"
    model = ["schnet:hidden=8,layers=1"]
    assert benchmarks_main(_args(out, models=model)) == 0
    (path,) = (out / "models").glob("*.json")
    record = json.loads(path.read_text())
    del record["lr"]
    path.write_text(json.dumps(record, indent=1))
    capsys.readouterr()
    assert benchmarks_main(_args(out, models=model)) == 0
    (again,) = _json_lines(capsys.readouterr().out)
    assert again["resumed"] and "lr" not in again
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["models"]] == model
    assert "; lr 0.0005; 1 thread(s)" in (out / "table.md").read_text()  # the common rate


def test_budget_can_evaluate_on_validation_molecules(tmp_path, capsys):
    out = tmp_path / "budget"
    model = ["schnet:hidden=8,layers=1"]
    assert benchmarks_main(_args(out, models=model) + ["--eval-split", "val"]) == 0
    (record,) = _json_lines(capsys.readouterr().out)
    assert record["eval_split"] == "val" and record["test_count"] == 24
    assert record["settings"]["eval_split"] == "val"
    table = (out / "table.md").read_text()
    assert "first 24 of the dimenet val split" in table and "| val MAE (meV) |" in table
    # a test-split run cannot be mixed into the same folder
    assert benchmarks_main(_args(out, models=model)) == 2
    assert "other settings" in capsys.readouterr().err


def test_budget_takes_a_learning_rate_per_model(tmp_path, capsys):
    out = tmp_path / "budget"
    models = MODELS[:2]  # r3 at --lr, schnet at its own rate
    assert benchmarks_main(_args(out, models=models) + ["--model-lr", "schnet=2e-3"]) == 0
    lines = {r["model"]: r for r in _json_lines(capsys.readouterr().out)}
    assert lines[MODELS[0]]["lr"] == 5e-4 and lines[MODELS[1]]["lr"] == 2e-3
    assert lines[MODELS[1]]["settings"]["lr"] == 5e-4  # the common rate is unchanged
    table = (out / "table.md").read_text()
    assert f"- `{MODELS[1]}`: hidden=8, layers=1" in table and "; lr 0.002;" in table
    assert "; lr 0.0005;" in table
    # the same rates resume; another rate for a finished model is refused
    assert benchmarks_main(_args(out, models=models) + ["--model-lr", "schnet=2e-3"]) == 0
    assert all(r["resumed"] for r in _json_lines(capsys.readouterr().out))
    assert benchmarks_main(_args(out, models=models)) == 2
    assert "lr: 0.002 vs 0.0005" in capsys.readouterr().err


def test_budget_gives_the_seed_model_its_own_rate(tmp_path, capsys):
    out = tmp_path / "budget"
    models = ["r3s2:hidden=8,layers=1,basis.dim=8", MODELS[0]]
    assert benchmarks_main(_args(out, models=models)) == 0
    lines = {r["model"]: r for r in _json_lines(capsys.readouterr().out)}
    assert lines[models[0]]["lr"] == 4e-3 and lines[models[1]]["lr"] == 5e-4
    assert lines[models[0]]["options"]["space"]["num_orientations"] == 4
    # --model-lr overrides the model's own rate (a new folder: the options differ)
    out2 = tmp_path / "common"
    assert benchmarks_main(_args(out2, models=models[:1]) + ["--model-lr", "r3s2=5e-4"]) == 0
    (record,) = _json_lines(capsys.readouterr().out)
    assert record["lr"] == 5e-4


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("schnet", "NAME=LR"),
        ("nosuch=1e-3", "unknown model 'nosuch'"),
        ("schnet=fast", "is not a number"),
        ("schnet=-1e-3", "finite and positive"),
        ("egnn=1e-3", "not in --models"),
    ],
)
def test_bad_model_learning_rates_are_usage_errors(tmp_path, capsys, item, message):
    assert benchmarks_main(_args(tmp_path / "b", models=MODELS[1:2]) + ["--model-lr", item]) == 2
    assert message in capsys.readouterr().err


def test_workers_get_the_runs_arguments_and_their_model(tmp_path):
    from benchmarks.budget.cli import _check_args, build_parser
    from benchmarks.budget_core import worker_argv

    argv = ["--minutes", "1", "--train-size", "64", "--models", "schnet:hidden=8", "r3:hidden=8",
            "--model-lr", "schnet=2e-3", "--jobs", "2"]  # fmt: skip
    worker = worker_argv("budget", argv, "r3:hidden=8", tmp_path, "cmd", 1)
    assert worker[1:4] == ["-m", "benchmarks", "budget"]
    parser = build_parser()
    args = parser.parse_args(worker[4:])  # the last occurrence of an option wins
    assert args.worker and args.models == ["r3:hidden=8"] and args.jobs == 1
    assert args.threads == 1 and args.out == str(tmp_path) and args.command == "cmd"
    # a worker trains one model of the run: the other models' rates are not a usage error
    assert _check_args(parser, args) == ["r3:hidden=8"]
    assert args.model_lr["schnet"] == 2e-3
