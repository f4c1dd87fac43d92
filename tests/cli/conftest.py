"""Fixtures of the command-line tests: one tiny reference ``regconv fit`` run for the package."""

from __future__ import annotations

from pathlib import Path

import pytest

from regconv.cli.main import main
from tests.cli.runs import write_config


@pytest.fixture(scope="package")
def run_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="package")
def tiny_config(run_root) -> Path:
    return write_config(run_root / "tiny.yaml")


@pytest.fixture(scope="package")
def reference_run(run_root, tiny_config) -> Path:
    run = run_root / "reference"
    assert main(["fit", "--config", str(tiny_config), "--run_dir", str(run)]) == 0
    return run
