"""python -m benchmarks force-step: the cost of an energy + force step beside an energy step."""

import json

import pytest

from benchmarks.force_step import main


def test_force_step_times_both_steps_of_every_default_model(capsys):
    assert main(["--steps", "1", "--warmup", "0", "--batch-size", "2", "--threads", "1"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["model"] for r in records] == ["r3s2", "r3", "schnet"]
    for r in records:
        assert r["energy_ms"] > 0 and r["force_ms"] > 0
        assert r["ratio"] == pytest.approx(r["force_ms"] / r["energy_ms"], rel=0.02)
        assert r["options"] == "budget" and r["machine"]["torch_threads"] == 1


def test_force_step_takes_registered_defaults_and_refuses_bad_counts(capsys):
    argv = ["--options", "registered", "--models", "r3:hidden=8,layers=1", "--steps", "1",
            "--warmup", "0", "--batch-size", "1", "--threads", "1"]  # fmt: skip
    assert main(argv) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["options"] == "registered" and record["parameters"] > 0
    with pytest.raises(SystemExit):
        main(["--steps", "0"])
    assert "--steps must be at least 1" in capsys.readouterr().err
