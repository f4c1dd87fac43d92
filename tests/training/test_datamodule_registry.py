"""The data modules by data set: every registry entry is importable as ``regconv.training.<Name>``
(the class_path of configs), one file each; the task and data-module options are keyword-only."""

from __future__ import annotations

import importlib

import pytest

import regconv.training
from regconv.training import GraphDataModule, RegressionTask, nbody_task
from regconv.training.datamodules import DATA_MODULES, available, import_all


@pytest.mark.parametrize("name", sorted(DATA_MODULES))
def test_every_registered_data_module_is_a_class_path_of_regconv_training(name):
    cls = getattr(regconv.training, name)
    assert cls is getattr(importlib.import_module(DATA_MODULES[name]), name)
    assert cls is getattr(importlib.import_module("regconv.training.datamodules"), name)
    assert issubclass(cls, GraphDataModule) and name in regconv.training.__all__


def test_one_file_per_data_set():
    assert available() == ["MD17DataModule", "NBodyDataModule", "QM9DataModule"]
    modules = [DATA_MODULES[name] for name in available()]
    assert len(set(modules)) == len(modules)
    import_all()  # what `regconv fit --help` lists
    subclasses = {cls.__name__ for cls in GraphDataModule.__subclasses__()}
    assert set(available()) | {"DatasetDataModule"} <= subclasses


def test_options_are_keyword_only():
    from regconv.training import MD17DataModule, NBodyDataModule, QM9DataModule

    with pytest.raises(TypeError):
        QM9DataModule("homo")
    with pytest.raises(TypeError):
        NBodyDataModule(100)
    with pytest.raises(TypeError):
        MD17DataModule("file.npz")
    with pytest.raises(TypeError):
        RegressionTask("r3", {"hidden": 8}, nbody_task(), "mse")
    task = RegressionTask("r3", {"hidden": 8, "layers": 1}, nbody_task(), loss="mse")
    assert task.hparams.loss == "mse" and task.spec.kind == "node_vector"
