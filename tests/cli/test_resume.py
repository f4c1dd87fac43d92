"""``regconv fit``: determinism, a killed run resumed (a real process, SIGKILL), 2-process DDP.

The reference run (a fixture of the package) is compared with a second run of the same seed,
with a run killed mid-epoch and resumed, and with a 2-process DDP run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch

from regconv.cli.main import main
from tests.cli.runs import child_env, results, state

# ----------------------------------------------------------------------------------------------
# determinism, resume, DDP
# ----------------------------------------------------------------------------------------------


def test_same_seed_same_metrics(run_root, tiny_config, reference_run):
    again = run_root / "again"
    assert main(["fit", "--config", str(tiny_config), "--run_dir", str(again)]) == 0
    assert results(again)["test"] == results(reference_run)["test"]
    assert results(again)["best_val_loss"] == results(reference_run)["best_val_loss"]
    a, b = state(reference_run), state(again)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(run_root, tiny_config, reference_run):
    run = run_root / "killed"
    log = open(run_root / "killed.log", "wb")
    cmd = [
        sys.executable, "-m", "regconv.cli.main", "fit", "--config", str(tiny_config),
        "--run_dir", str(run),
        "--trainer.callbacks+=regconv.training.Throttle", "--trainer.callbacks.seconds=0.5",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 180
    try:
        while not last.exists():
            assert proc.poll() is None, (run_root / "killed.log").read_text()[-3000:]
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

    assert (
        main(["fit", "--config", str(tiny_config), "--run_dir", str(run), "--ckpt_path", "last"])
        == 0
    )
    assert results(run)["test"] == results(reference_run)["test"]
    assert results(run)["best_val_loss"] == results(reference_run)["best_val_loss"]
    a, b = state(reference_run), state(run)
    assert all(torch.equal(a[k], b[k]) for k in a)  # EMA, statistics and weights: exact
    assert (run / "logs" / "version_1" / "metrics.csv").is_file()
    assert (run / "config.resume1.yaml").is_file()


@pytest.mark.slow
def test_ddp_two_processes_match_one_process(run_root, tiny_config, reference_run):
    run = run_root / "ddp"
    cmd = [
        sys.executable, "-m", "regconv.cli.main", "fit", "--config", str(tiny_config),
        "--run_dir", str(run), "--trainer.strategy", "ddp", "--trainer.devices", "2",
        "--data.init_args.batch_size", "8",  # per process: the same global batch of 16
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=child_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    res, ref = results(run), results(reference_run)
    assert res["world_size"] == 2 and res["global_step"] == ref["global_step"]
    assert res["best_val_loss"] == pytest.approx(ref["best_val_loss"], rel=1e-5, abs=1e-6)
    for name, m in ref["test"]["targets"].items():
        assert res["test"]["targets"][name]["mae"] == pytest.approx(m["mae"], rel=1e-5)
    assert res["test"]["count"] == ref["test"]["count"]  # padding does not double count
    a, b = state(reference_run), state(run)
    for k in a:
        if a[k].is_floating_point():
            torch.testing.assert_close(b[k], a[k], rtol=1e-5, atol=1e-5, msg=k)
