"""Smoke runs of the research harnesses: each runs its default model list (its default specs
and model options) for a few steps on tiny data, so that a default that no longer builds or
trains fails here (the energy + force budget once failed on its default ``r3s2`` and no test
saw it). MACE's own tools (and the cap that runs its training) are replaced by stand-ins that behave
like them on the command line (a run of the real ones takes minutes); everything of the harness
around them runs."""

from __future__ import annotations

import json
import math
import os
import sys
import textwrap
from functools import partial

import pytest

from benchmarks.__main__ import main
from tests.cli.test_md17_fit import write_harmonic_rmd17

TINY = {
    "throughput": ["--subset", "2", "--batch-size", "2", "--repeats", "1", "--warmup", "0",
                   "--threads", "1", "--no-memory"],
    "device-throughput": ["--device", "cpu", "--subset", "2", "--batch-size", "2", "--warmup",
                          "0", "--steps", "1", "--precisions", "fp32"],
    "flops": ["--batch-size", "2", "--threads", "1"],
    "peak": ["--n", "64", "--repeats", "1", "--trials", "1", "--threads", "1"],
    "scaling": ["--sizes", "40", "--repeats", "1", "--warmup", "0", "--threads", "1"],
    "profile-step": ["--subset", "2", "--batch-size", "2", "--steps", "1", "--warmup", "0",
                     "--threads", "1", "--rows", "3"],
    "accuracy-check": ["--steps", "1", "--subset", "4", "--val", "4", "--batch-size", "4",
                       "--eval-every", "1"],
    "md-speed": ["--steps", "2", "--warmup", "1", "--threads", "1"],
}  # fmt: skip


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("name", sorted(TINY))
def test_harness_runs_its_default_models(name, capsys, monkeypatch):
    from regconv.bench import flops

    # throughput measures the matmul peak at 2048^2 first: seconds, not what is tested here
    small_peak = partial(flops.matmul_peak, 64, 1, 1)
    monkeypatch.setattr("regconv.bench.throughput.matmul_peak", small_peak)
    assert main([name, *TINY[name]]) == 0
    records = _records(capsys.readouterr().out)
    assert records and not [r for r in records if "error" in r]


def _failures(err: str) -> list[str]:
    return [line for line in err.splitlines() if "FAILED" in line]


def test_budget_trains_every_default_model(tmp_path, capsys):
    from benchmarks.budget import all_models

    out = tmp_path / "budget"
    argv = ["budget", "--minutes", "0.002", "--train-size", "8", "--test-size", "4",
            "--batch-size", "4", "--threads", "1", "--out", str(out)]  # fmt: skip
    code = main(argv)
    assert _failures(capsys.readouterr().err) == [] and code == 0
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["models"]] == all_models()
    assert all(r["steps"] >= 1 and math.isfinite(r["test_mae"]) for r in doc["models"])


FAKE_MACE_CAPPED = """
    import argparse, datetime, json, os, sys, torch
    cut = sys.argv.index("--")
    p = argparse.ArgumentParser()
    p.add_argument("--budget-s", type=float, required=True)
    p.add_argument("--steps-file", required=True)
    ours = p.parse_args(sys.argv[1:cut])
    p = argparse.ArgumentParser()
    for flag in ("--name", "--work_dir", "--train_file", "--max_num_epochs"):
        p.add_argument(flag, required=True)
    args, _ = p.parse_known_args(sys.argv[cut + 1:])
    assert os.path.isfile(args.train_file) and int(args.max_num_epochs) >= 1
    start = datetime.datetime.now()
    for t, text in ((start, "Started training"), (start + datetime.timedelta(seconds=0.05),
                    "Epoch 0: head: Default, loss=0.1")):
        print(t.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] + " INFO: " + text)
    os.makedirs(args.work_dir, exist_ok=True)
    torch.save(torch.nn.Linear(3, 1), os.path.join(args.work_dir, args.name + ".model"))
    with open(ours.steps_file, "w") as fh:  # two epochs of 190 steps, the second cut short
        json.dump({"budget_s": ours.budget_s, "steps": 285, "short_epochs": 1,
                   "epoch_s": ours.budget_s}, fh)
"""
FAKE_MACE_EVAL_CONFIGS = """
    import argparse, ase.io
    p = argparse.ArgumentParser()
    for flag in ("--configs", "--model", "--output"):
        p.add_argument(flag, required=True)
    args, _ = p.parse_known_args()
    frames = ase.io.read(args.configs, ":")
    for a in frames:
        a.info["MACE_energy"] = a.info["REF_energy"] + 0.001
        a.arrays["MACE_forces"] = a.arrays["REF_forces"] - 0.002
    ase.io.write(args.output, frames, format="extxyz")
"""


@pytest.fixture
def mace_stand_ins(tmp_path, monkeypatch):
    tools = {}
    for name, body in (("mace_run_train", "raise SystemExit('the cap runs MACE')"),
                       ("mace_capped.py", FAKE_MACE_CAPPED),
                       ("mace_eval_configs", FAKE_MACE_EVAL_CONFIGS)):  # fmt: skip
        path = tmp_path / "bin" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
        os.chmod(path, 0o755)
        tools[name] = str(path)
    monkeypatch.setattr("benchmarks.pes_budget.mace.mace_tool", tools.get)
    monkeypatch.setattr("benchmarks.pes_budget.mace.LAUNCHER", tools.pop("mace_capped.py"))


def test_pes_budget_trains_every_default_model(tmp_path, capsys, mace_stand_ins):
    from benchmarks.pes_budget import default_models

    data = tmp_path / "toy.npz"
    write_harmonic_rmd17(data, frames=1010)  # 950 / 50 / 10
    out = tmp_path / "pes"
    argv = ["pes-budget", "--path", str(data), "--minutes", "0.002", "--test-size", "10",
            "--out", str(out)]  # fmt: skip
    code = main(argv)
    assert _failures(capsys.readouterr().err) == [] and code == 0
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["models"]] == default_models()
    for r in doc["models"]:
        assert r["steps"] >= 1 and math.isfinite(r["test_mae_forces"]), r["model"]
    (mace,) = [r for r in doc["models"] if r["kind"] == "mace"]
    assert mace["steps"] == 285 and mace["epochs"] == 1.5 and mace["short_epochs"] == 1
    assert mace["train_epochs_s"] == pytest.approx(0.12)  # 0.002 minutes
    assert mace["test_mae_forces"] == pytest.approx(2.0, abs=1e-5)
