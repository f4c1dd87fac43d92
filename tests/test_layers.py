"""The layering of docs/ARCHITECTURE.md, enforced: the import-linter contracts of pyproject.toml
hold for the installed package, every subpackage has a place in them, and a violation fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import regconv

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"


def _contracts() -> list[dict]:
    return tomllib.loads(CONFIG.read_text())["tool"]["importlinter"]["contracts"]


def _lint(package_parent: Path, config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    code = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"
    command = [sys.executable, "-c", code, "--config", str(config), "--no-cache"]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_installed_package_keeps_every_contract():
    result = _lint(Path(regconv.__file__).parents[1], CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in result.stdout


def test_every_subpackage_has_a_layer():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    named = {
        name.strip().strip("()").removeprefix("regconv.")
        for layer in layers
        for name in layer.split("|")
    }
    package = Path(regconv.__file__).parent
    subpackages = {p.parent.name for p in package.glob("*/__init__.py")}
    assert subpackages - named == set(), "a subpackage outside the layers escapes the contract"
    assert named - subpackages == set(), "a layer names a subpackage that does not exist"


@pytest.mark.parametrize(
    ("importer", "imported"),
    [("ops", "regconv.cli.main"), ("models", "regconv.training"), ("data", "regconv.kernels")],
)
def test_an_import_up_the_layers_fails(tmp_path, importer, imported):
    """A copy of the package with one import that runs back up breaks the contract."""
    copy = tmp_path / "regconv"
    shutil.copytree(Path(regconv.__file__).parent, copy, ignore=shutil.ignore_patterns("*.so"))
    init = copy / importer / "__init__.py"
    init.write_text(init.read_text() + f"\nimport {imported}  # noqa\n")
    result = _lint(tmp_path, CONFIG)
    assert result.returncode == 1
    assert "BROKEN" in result.stdout
    assert f"regconv.{importer}" in result.stdout
