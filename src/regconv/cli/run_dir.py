"""Run folders of ``regconv fit|validate|test``: where a run writes, its config copies, resuming.

Every process of a multi-process run (Lightning's DDP launcher, SLURM, torchrun) must write to
the same folder; :func:`resolve_run_dir` chooses it, and the launcher's children find it in the
environment variable ``REGCONV_RUN_DIR`` (:func:`announce_run_dir`, :func:`restored_run_dir_env`).
Nothing here imports Lightning.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "RUN_DIR_ENV",
    "announce_run_dir",
    "check_resume",
    "config_copy_path",
    "env_rank",
    "is_launcher_child",
    "resolve_run_dir",
    "restored_run_dir_env",
    "run_name",
    "timestamp",
    "write_config_copy",
]

#: The variable through which the processes of Lightning's DDP launcher share the run folder.
RUN_DIR_ENV = "REGCONV_RUN_DIR"


def timestamp() -> str:
    """The name of a new run folder: the local time, ``YYYYmmdd-HHMMSS``."""
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def env_rank() -> int:
    """The global rank announced by a launcher's environment (0 if none)."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 0


def is_launcher_child() -> bool:
    """True in a process started by Lightning's DDP launcher (it sets LOCAL_RANK >= 1)."""
    return os.environ.get("LOCAL_RANK", "0") not in ("", "0") and RUN_DIR_ENV in os.environ


def run_name(given: str | None, configs: Sequence[object] | None) -> str:
    """``given``, else the stem of the last ``--config`` file, else ``"run"``."""
    if given:
        return given
    configs = list(configs or [])
    return Path(str(configs[-1])).stem if configs else "run"


def resolve_run_dir(
    run_dir: str | None, runs_root: str, name: str, subcommand: str
) -> tuple[Path, str]:
    """The run folder and how it was chosen: ``"given"``, ``"parent"`` (the folder of
    Lightning's DDP launcher process), ``"slurm"``, ``"torchrun"`` or ``"new"``.

    Every process of a multi-process run must agree: explicit ``run_dir`` first; then the
    folder of the parent process; then one named after the SLURM job (multi-task jobs) or the
    torchrun rendezvous id; else a fresh timestamped folder (one process)."""
    if run_dir:
        return Path(run_dir), "given"
    if is_launcher_child():
        return Path(os.environ[RUN_DIR_ENV]), "parent"
    suffix = "" if subcommand == "fit" else f"-{subcommand}"
    base = Path(runs_root) / name
    slurm = os.environ.get("SLURM_JOB_ID")
    if slurm and int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return base / f"slurm-{slurm}{suffix}", "slurm"
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "TORCHELASTIC_RUN_ID" in os.environ:
        rid = os.environ["TORCHELASTIC_RUN_ID"]
        if rid and rid != "none":
            return base / f"torchrun-{rid}{suffix}", "torchrun"
        raise ValueError(
            "under torchrun, give --run_dir (or torchrun --rdzv-id) so that all processes use "
            "the same run folder"
        )
    stamp = timestamp() + suffix
    path = base / stamp
    k = 1
    while path.exists():
        path = base / f"{stamp}-{k}"
        k += 1
    return path, "new"


def check_resume(subcommand: str, ckpt_path: str | None, how: str) -> None:
    """``ValueError`` for ``fit --ckpt_path last`` in a new run folder (it has no last.ckpt)."""
    if subcommand == "fit" and ckpt_path == "last" and how == "new":
        raise ValueError(
            "--ckpt_path last resumes the run in --run_dir: give the folder of the run "
            "to resume (a new run folder has no last.ckpt)"
        )


def config_copy_path(run_dir: Path) -> Path:
    """``<run_dir>/config.yaml``, or ``config.resumeN.yaml`` (the first free ``N``) for later
    invocations in the same folder."""
    path = run_dir / "config.yaml"
    k = 1
    while path.exists():
        path = run_dir / f"config.resume{k}.yaml"
        k += 1
    return path


def write_config_copy(run_dir: Path, text: str) -> Path:
    """Write the resolved config ``text`` atomically to :func:`config_copy_path`; its path."""
    from regconv.utils.io import atomic_write_text

    path = config_copy_path(run_dir)
    atomic_write_text(path, text)
    return path


def announce_run_dir(run_dir: Path) -> None:
    """Processes started by Lightning's DDP launcher inherit this and use the same folder."""
    os.environ[RUN_DIR_ENV] = str(run_dir)


@contextmanager
def restored_run_dir_env() -> Iterator[None]:
    """Restore ``REGCONV_RUN_DIR`` (or its absence) when the block ends, however it ends."""
    before = os.environ.get(RUN_DIR_ENV)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = before
