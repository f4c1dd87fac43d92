"""``regconv fit|validate|test``: a complete run folder, the printed table, strict configs.

Tiny runs (:mod:`tests.cli.runs`); the reference run is a fixture of the package (conftest).
"""

from __future__ import annotations

import json

import pytest
import yaml

from regconv.cli.main import main
from tests.cli.runs import CONFIG, results, write_config

# ----------------------------------------------------------------------------------------------
# a run folder
# ----------------------------------------------------------------------------------------------


def test_fit_writes_a_complete_run_folder(reference_run, capsys):
    for rel in (
        "config.yaml",
        "results.json",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "logs/version_0/metrics.csv",
        "plots/learning_curves.png",
        "plots/parity_test.png",
    ):
        assert (reference_run / rel).is_file(), rel
    for png in (reference_run / "plots").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = results(reference_run)
    assert res["command"] == "fit" and res["seed"] == 7 and res["world_size"] == 1
    assert res["global_step"] == 12 and res["weights"] == "ema"
    assert res["checkpoint"].endswith("best.ckpt")
    assert res["test"]["count"] == 12
    assert res["test"]["targets"]["homo"]["unit"] == "meV"
    assert res["test"]["targets"]["alpha"]["unit"] == "bohr^3"
    assert res["test"]["targets"]["homo"]["mae"] > 0
    # "val" is the validation of the tested (best) checkpoint: its loss is the best one
    assert res["val"]["loss"] == pytest.approx(res["best_val_loss"], rel=1e-5)
    assert (
        res["wall_time_s"]["fit"] > 0 and res["wall_time_s"]["total"] >= res["wall_time_s"]["fit"]
    )
    split = res["split"]
    assert split["scheme"] == "dimenet" and split["sizes"] == {"train": 64, "val": 16, "test": 12}
    assert len(split["ids_sha256"]["train"]) == 64
    saved = yaml.safe_load((reference_run / "config.yaml").read_text())
    assert saved["model"]["model"] == "r3" and saved["data"]["init_args"]["train_subset"] == 64
    header = (reference_run / "logs/version_0/metrics.csv").read_text().splitlines()[0]
    assert "val/mae_homo_meV" in header and "test/mae_alpha_bohr3" in header
    assert "train/loss_step" in header


def test_fit_prints_the_test_table(run_root, tiny_config, capsys):
    run = run_root / "printed"
    args = ["fit", "--config", str(tiny_config), "--run_dir", str(run), "--trainer.max_epochs", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "target" in out and "MAE" in out and "unit" in out
    assert "homo" in out and "meV" in out and "bohr^3" in out
    assert str(run / "plots" / "parity_test.png") in out


def test_test_subcommand_evaluates_a_checkpoint(run_root, tiny_config, reference_run):
    run = run_root / "tested"
    best = reference_run / "checkpoints" / "best.ckpt"
    args = ["test", "--config", str(tiny_config), "--ckpt_path", str(best), "--run_dir", str(run)]
    assert main(args) == 0
    assert results(run)["command"] == "test"
    assert results(run)["test"] == results(reference_run)["test"]
    assert (run / "plots" / "parity_test.png").is_file()
    # the network comes from the checkpoint, evaluation options from the command line
    run2 = run_root / "tested_tta"
    args = ["test", "--config", str(tiny_config), "--ckpt_path", str(best), "--run_dir", str(run2)]
    args += ["--model.model_options", "{hidden: 16}", "--model.test_rotations", "2"]
    assert main(args) == 0
    assert results(run2)["test"]["rotations"] == 2
    assert results(run2)["model_options"] == CONFIG["model"]["model_options"]


def test_default_run_folder_is_named_after_the_config(run_root, tiny_config, monkeypatch):
    monkeypatch.chdir(run_root)
    args = [
        "fit",
        "--config",
        str(tiny_config),
        "--trainer.max_epochs",
        "1",
        "--test_after_fit",
        "false",
    ]
    assert main(args) == 0
    runs = list((run_root / "runs" / "tiny").iterdir())
    assert len(runs) == 1 and (runs[0] / "results.json").is_file()
    assert "test" not in results(runs[0]) and "val" in results(runs[0])


# ----------------------------------------------------------------------------------------------
# strict configuration
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ["--model.nonsense", "1"],
        ["--trainer.max_epoch", "2"],
        ["--data.init_args.batchsize", "4"],
        ["--model.loss", "l3"],
    ],
)
def test_unknown_or_ill_typed_keys_are_errors(run_root, tiny_config, extra, capsys):
    code = main(["fit", "--config", str(tiny_config), "--run_dir", str(run_root / "never"), *extra])
    assert code == 2
    assert "error" in capsys.readouterr().err.lower()
    assert not (run_root / "never" / "results.json").exists()


def test_unknown_key_in_a_config_file_is_an_error(run_root, capsys):
    bad = json.loads(json.dumps(CONFIG))
    bad["model"]["learning_rate"] = 0.1
    path = write_config(run_root / "bad.yaml", bad)
    assert main(["fit", "--config", str(path), "--run_dir", str(run_root / "never")]) == 2
    assert "learning_rate" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model.model_options", "{hiddn: 8}"], "hiddn"),
        (["--data.init_args.target", "homo2"], "homo2"),
        (["--model.model", "r4"], "r4"),
        (["--checkpoint_every_n_steps", "-1"], "--checkpoint_every_n_steps must be"),
    ],
)
def test_bad_values_are_reported_without_a_traceback(run_root, tiny_config, extra, message, capsys):
    code = main(["fit", "--config", str(tiny_config), "--run_dir", str(run_root / "never"), *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resuming_needs_the_run_folder(run_root, tiny_config, monkeypatch, capsys):
    monkeypatch.chdir(run_root)
    assert main(["fit", "--config", str(tiny_config), "--ckpt_path", "last"]) == 2
    assert "--run_dir" in capsys.readouterr().err


def test_usage():
    assert main([]) == 2
    assert main(["frobnicate"]) == 2


def test_fit_trains_r3s2_in_bfloat16_mixed_precision(run_root, tiny_config):
    """``--trainer.precision bf16-mixed`` (Lightning's autocast to bfloat16 on the CPU): the
    seed's model trains through the native sums and the bfloat16 products to finite errors."""
    run = run_root / "bf16"
    args = ["fit", "--config", str(tiny_config), "--run_dir", str(run), "--trainer.max_epochs",
            "1", "--trainer.precision", "bf16-mixed", "--model.model", "r3s2",
            "--model.model_options", "{hidden: 8, layers: 1, basis: {dim: 8}}"]  # fmt: skip
    assert main(args) == 0
    res = results(run)
    assert res["global_step"] == 4
    for target in ("homo", "alpha"):
        assert 0 < res["test"]["targets"][target]["mae"] < float("inf")
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["trainer"]["precision"] == "bf16-mixed"
