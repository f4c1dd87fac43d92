"""How a harness starts itself in a fresh interpreter (workers, measurements in subprocesses)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["REPO_ROOT", "child_env", "harness_command"]

#: The repository root: the folder above ``benchmarks/``, put on the children's ``PYTHONPATH``
REPO_ROOT = Path(__file__).resolve().parent.parent


def harness_command(name: str) -> list[str]:
    """``[python, -m, benchmarks, name]``: the harness ``name`` in a fresh interpreter."""
    return [sys.executable, "-m", "benchmarks", name]


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment with the repository root first on ``PYTHONPATH`` (so that
    ``-m benchmarks`` resolves from any working directory) and the ``extra`` variables."""
    path = os.environ.get("PYTHONPATH")
    pythonpath = str(REPO_ROOT) + (os.pathsep + path if path else "")
    return {**os.environ, "PYTHONPATH": pythonpath, **extra}
