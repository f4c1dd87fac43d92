"""Every configuration shipped in ``configs/`` builds its data module, task and network."""

import importlib
from pathlib import Path

import pytest
import yaml

from regconv.training import RegressionTask

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
#: data the command line must add to a config (its header says how)
ON_THE_COMMAND_LINE = {
    "md17_quick.yaml": {"molecule": "aspirin"},
    "md17_r3s2.yaml": {"molecule": "aspirin"},
}


def test_there_are_configs_to_check():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_builds_its_task_and_network(path):
    cfg = yaml.safe_load(path.read_text())
    module, _, name = cfg["data"]["class_path"].rpartition(".")
    init = {**cfg["data"].get("init_args", {}), **ON_THE_COMMAND_LINE.get(path.name, {})}
    data = getattr(importlib.import_module(module), name)(**init)
    task = RegressionTask(**cfg["model"], task=data.task_spec)  # constructs, does not load data
    assert sum(p.numel() for p in task.net.parameters()) > 0
    assert task.spec.kind == data.task_spec["kind"]
    assert cfg["trainer"]["max_epochs"] >= 1
