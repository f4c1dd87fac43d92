"""Run folders (:mod:`regconv.cli.run_dir`): how the folder is chosen, config copies, resuming."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from regconv.cli import run_dir as rd

LAUNCH_VARS = (
    "REGCONV_RUN_DIR",
    "LOCAL_RANK",
    "RANK",
    "SLURM_PROCID",
    "SLURM_JOB_ID",
    "SLURM_NTASKS",
    "WORLD_SIZE",
    "TORCHELASTIC_RUN_ID",
)


@pytest.fixture
def env(monkeypatch):
    """No launcher in the environment (the test sets what it needs)."""
    for var in LAUNCH_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_a_given_folder_wins(env, tmp_path):
    env.setenv("SLURM_JOB_ID", "42")
    env.setenv("SLURM_NTASKS", "4")
    assert rd.resolve_run_dir(str(tmp_path / "mine"), "runs", "x", "fit") == (
        tmp_path / "mine",
        "given",
    )


def test_new_folders_are_timestamped_and_never_reused(env, tmp_path, monkeypatch):
    monkeypatch.setattr(rd, "timestamp", lambda: "20240101-120000")
    path, how = rd.resolve_run_dir(None, str(tmp_path), "homo", "fit")
    assert how == "new" and path == tmp_path / "homo" / "20240101-120000"
    path.mkdir(parents=True)
    again, _ = rd.resolve_run_dir(None, str(tmp_path), "homo", "fit")
    assert again == tmp_path / "homo" / "20240101-120000-1"
    test, _ = rd.resolve_run_dir(None, str(tmp_path), "homo", "test")
    assert test == tmp_path / "homo" / "20240101-120000-test"


def test_launchers_share_one_folder(env, tmp_path):
    env.setenv("SLURM_JOB_ID", "42")
    env.setenv("SLURM_NTASKS", "2")
    assert rd.resolve_run_dir(None, str(tmp_path), "n", "validate") == (
        tmp_path / "n" / "slurm-42-validate",
        "slurm",
    )
    env.delenv("SLURM_JOB_ID")
    env.setenv("WORLD_SIZE", "2")
    env.setenv("TORCHELASTIC_RUN_ID", "abc")
    assert rd.resolve_run_dir(None, str(tmp_path), "n", "fit")[1] == "torchrun"
    env.setenv("TORCHELASTIC_RUN_ID", "none")
    with pytest.raises(ValueError, match="--run_dir"):
        rd.resolve_run_dir(None, str(tmp_path), "n", "fit")
    # a child of Lightning's DDP launcher takes its parent's folder
    env.setenv("LOCAL_RANK", "1")
    env.setenv("REGCONV_RUN_DIR", str(tmp_path / "parent"))
    assert rd.is_launcher_child() and rd.env_rank() == 1
    assert rd.resolve_run_dir(None, "runs", "n", "fit") == (tmp_path / "parent", "parent")


def test_run_name_and_resume_check():
    assert rd.run_name("given", ["a.yaml"]) == "given"
    assert rd.run_name(None, [Path("configs/qm9_quick.yaml"), "x/last.yaml"]) == "last"
    assert rd.run_name(None, None) == "run"
    rd.check_resume("fit", "last", "given")
    rd.check_resume("test", "last", "new")
    with pytest.raises(ValueError, match="--run_dir"):
        rd.check_resume("fit", "last", "new")


def test_config_copies_of_later_invocations(tmp_path):
    assert rd.write_config_copy(tmp_path, "a: 1\n") == tmp_path / "config.yaml"
    assert rd.write_config_copy(tmp_path, "a: 2\n") == tmp_path / "config.resume1.yaml"
    assert rd.config_copy_path(tmp_path) == tmp_path / "config.resume2.yaml"
    assert (tmp_path / "config.yaml").read_text() == "a: 1\n"


def test_the_run_folder_variable_is_restored(env, tmp_path):
    with rd.restored_run_dir_env():
        rd.announce_run_dir(tmp_path)
        assert os.environ["REGCONV_RUN_DIR"] == str(tmp_path)
    assert "REGCONV_RUN_DIR" not in os.environ
    env.setenv("REGCONV_RUN_DIR", "before")
    with pytest.raises(RuntimeError), rd.restored_run_dir_env():
        rd.announce_run_dir(tmp_path)
        raise RuntimeError
    assert os.environ["REGCONV_RUN_DIR"] == "before"
