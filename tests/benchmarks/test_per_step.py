"""benchmarks.per_step: per-step tries on QM9 validation molecules, on the same batches from
the same seed; resumable by whole tries; other settings refused."""

from __future__ import annotations

import json

from benchmarks.per_step import main

BASE = "r3:hidden=8,layers=1,basis.dim=8"


def test_tries_train_on_the_same_batches_and_a_rerun_skips_what_is_done(tmp_path, capsys):
    argv = ["--base", BASE, "--tries", "", "block.layer_scale=None", "--checkpoints", "2", "4",
            "--subset", "64", "--val", "16", "--batch-size", "8",
            "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    recs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    tried = "block.layer_scale=None"
    assert [(r["try"], r["step"]) for r in recs] == [("", 2), ("", 4), (tried, 2), (tried, 4)]
    assert recs[2]["options"]["block"] == {"layer_scale": None}
    assert "block" not in recs[0]["options"]
    assert recs[2]["options"]["basis"] == {"dim": 8}  # the base's options are kept
    assert all(r["val_mae_meV"] > 0 for r in recs)
    # the same seed and batches: a try equal to the base repeats its numbers exactly
    assert main([*argv[:3], "hidden=8", *argv[5:]]) == 0
    again = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["val_mae_meV"] for r in again] == [r["val_mae_meV"] for r in recs[:2]]
    assert main(argv) == 0  # everything is complete: nothing is trained again
    assert capsys.readouterr().out == ""


def test_other_settings_and_bad_checkpoints_are_refused(tmp_path, capsys):
    argv = ["--base", BASE, "--tries", "", "--checkpoints", "1", "--subset", "32", "--val", "8",
            "--batch-size", "8", "--out", str(tmp_path)]  # fmt: skip
    assert main(argv) == 0
    assert main([*argv, "--lr", "1e-3"]) == 1
    assert "other settings" in capsys.readouterr().err
    assert main(["--base", BASE, "--tries", "", "--checkpoints", "4", "2"]) == 2
