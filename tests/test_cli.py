"""The ``regconv`` command: run folders, strict configs, determinism, kill/resume, DDP.

Tiny runs: an ``r3`` model of width 8 on 64 QM9 training molecules, 4 optimizer steps per epoch.
One reference run (module fixture) is compared with a second run of the same seed, with a run
killed mid-epoch (a real process, SIGKILL) and resumed, and with a 2-process DDP run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from regconv.cli.main import main

CONFIG = {
    "seed_everything": 7,
    "checkpoint_every_n_steps": 3,
    "trainer": {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 3,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "log_every_n_steps": 1,
        "gradient_clip_val": 5.0,
    },
    "model": {
        "model": "r3",
        "model_options": {"hidden": 8, "layers": 1, "basis_dim": 8},
        "lr": 0.003,
        "warmup_steps": 2,
        "ema_decay": 0.9,
    },
    "data": {
        "class_path": "regconv.training.QM9DataModule",
        "init_args": {
            "target": ["homo", "alpha"],
            "train_subset": 64,
            "val_subset": 16,
            "test_subset": 12,
            "batch_size": 16,
            "eval_batch_size": 8,
        },
    },
}


def write_config(path: Path, config: dict = CONFIG) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for var in ("REGCONV_RUN_DIR", "LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_PORT"):
        env.pop(var, None)
    return env


def state(run_dir: Path, name: str = "last.ckpt") -> dict[str, torch.Tensor]:
    ckpt = torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=False)
    return ckpt["state_dict"]


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def config(workdir) -> Path:
    return write_config(workdir / "tiny.yaml")


@pytest.fixture(scope="module")
def reference(workdir, config) -> Path:
    run = workdir / "reference"
    assert main(["fit", "--config", str(config), "--run_dir", str(run)]) == 0
    return run


# ----------------------------------------------------------------------------------------------
# a run folder
# ----------------------------------------------------------------------------------------------


def test_fit_writes_a_complete_run_folder(reference, capsys):
    for rel in (
        "config.yaml",
        "results.json",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
        "logs/version_0/metrics.csv",
        "plots/learning_curves.png",
        "plots/parity_test.png",
    ):
        assert (reference / rel).is_file(), rel
    for png in (reference / "plots").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = results(reference)
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
    saved = yaml.safe_load((reference / "config.yaml").read_text())
    assert saved["model"]["model"] == "r3" and saved["data"]["init_args"]["train_subset"] == 64
    header = (reference / "logs/version_0/metrics.csv").read_text().splitlines()[0]
    assert "val/mae_homo_meV" in header and "test/mae_alpha_bohr3" in header
    assert "train/loss_step" in header


def test_fit_prints_the_test_table(workdir, config, capsys):
    run = workdir / "printed"
    args = ["fit", "--config", str(config), "--run_dir", str(run), "--trainer.max_epochs", "1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "target" in out and "MAE" in out and "unit" in out
    assert "homo" in out and "meV" in out and "bohr^3" in out
    assert str(run / "plots" / "parity_test.png") in out


def test_test_subcommand_evaluates_a_checkpoint(workdir, config, reference):
    run = workdir / "tested"
    best = reference / "checkpoints" / "best.ckpt"
    args = ["test", "--config", str(config), "--ckpt_path", str(best), "--run_dir", str(run)]
    assert main(args) == 0
    assert results(run)["command"] == "test"
    assert results(run)["test"] == results(reference)["test"]
    assert (run / "plots" / "parity_test.png").is_file()
    # the network comes from the checkpoint, evaluation options from the command line
    run2 = workdir / "tested_tta"
    args = ["test", "--config", str(config), "--ckpt_path", str(best), "--run_dir", str(run2)]
    args += ["--model.model_options", "{hidden: 16}", "--model.test_rotations", "2"]
    assert main(args) == 0
    assert results(run2)["test"]["rotations"] == 2
    assert results(run2)["model_options"] == CONFIG["model"]["model_options"]


def test_default_run_folder_is_named_after_the_config(workdir, config, monkeypatch):
    monkeypatch.chdir(workdir)
    args = [
        "fit",
        "--config",
        str(config),
        "--trainer.max_epochs",
        "1",
        "--test_after_fit",
        "false",
    ]
    assert main(args) == 0
    runs = list((workdir / "runs" / "tiny").iterdir())
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
def test_unknown_or_ill_typed_keys_are_errors(workdir, config, extra, capsys):
    code = main(["fit", "--config", str(config), "--run_dir", str(workdir / "never"), *extra])
    assert code == 2
    assert "error" in capsys.readouterr().err.lower()
    assert not (workdir / "never" / "results.json").exists()


def test_unknown_key_in_a_config_file_is_an_error(workdir, capsys):
    bad = json.loads(json.dumps(CONFIG))
    bad["model"]["learning_rate"] = 0.1
    path = write_config(workdir / "bad.yaml", bad)
    assert main(["fit", "--config", str(path), "--run_dir", str(workdir / "never")]) == 2
    assert "learning_rate" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model.model_options", "{hiddn: 8}"], "hiddn"),
        (["--data.init_args.target", "homo2"], "homo2"),
        (["--model.model", "r4"], "r4"),
    ],
)
def test_bad_values_are_reported_without_a_traceback(workdir, config, extra, message, capsys):
    code = main(["fit", "--config", str(config), "--run_dir", str(workdir / "never"), *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_resuming_needs_the_run_folder(workdir, config, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["fit", "--config", str(config), "--ckpt_path", "last"]) == 2
    assert "--run_dir" in capsys.readouterr().err


def test_usage():
    assert main([]) == 2
    assert main(["frobnicate"]) == 2


# ----------------------------------------------------------------------------------------------
# determinism, resume, DDP
# ----------------------------------------------------------------------------------------------


def test_same_seed_same_metrics(workdir, config, reference):
    again = workdir / "again"
    assert main(["fit", "--config", str(config), "--run_dir", str(again)]) == 0
    assert results(again)["test"] == results(reference)["test"]
    assert results(again)["best_val_loss"] == results(reference)["best_val_loss"]
    a, b = state(reference), state(again)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(workdir, config, reference):
    run = workdir / "killed"
    log = open(workdir / "killed.log", "wb")
    cmd = [
        sys.executable, "-m", "regconv.cli.main", "fit", "--config", str(config),
        "--run_dir", str(run),
        "--trainer.callbacks+=regconv.training.Throttle", "--trainer.callbacks.seconds=0.5",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 180
    try:
        while not last.exists():
            assert proc.poll() is None, (workdir / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no step checkpoint appeared"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert not (run / "results.json").exists()
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    loader_state = ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
    assert 0 < loader_state["batches"] < 4  # killed mid-epoch
    assert ckpt["global_step"] < 12

    assert main(["fit", "--config", str(config), "--run_dir", str(run), "--ckpt_path", "last"]) == 0
    assert results(run)["test"] == results(reference)["test"]
    assert results(run)["best_val_loss"] == results(reference)["best_val_loss"]
    a, b = state(reference), state(run)
    assert all(torch.equal(a[k], b[k]) for k in a)  # EMA, statistics and weights: exact
    assert (run / "logs" / "version_1" / "metrics.csv").is_file()
    assert (run / "config.resume1.yaml").is_file()


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(workdir, config, reference):
    run = workdir / "ddp"
    cmd = [
        sys.executable, "-m", "regconv.cli.main", "fit", "--config", str(config),
        "--run_dir", str(run), "--trainer.strategy", "ddp", "--trainer.devices", "2",
        "--data.init_args.batch_size", "8",  # per process: the same global batch of 16
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res, ref = results(run), results(reference)
    assert res["world_size"] == 2 and res["global_step"] == ref["global_step"]
    assert res["best_val_loss"] == pytest.approx(ref["best_val_loss"], rel=1e-5, abs=1e-6)
    for name, m in ref["test"]["targets"].items():
        assert res["test"]["targets"][name]["mae"] == pytest.approx(m["mae"], rel=1e-5)
    assert res["test"]["count"] == ref["test"]["count"]  # padding does not double count
    a, b = state(reference), state(run)
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-5, msg=k)
