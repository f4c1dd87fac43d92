"""Shared test configuration.

The machine has two cores; torch work in tests runs on one thread so that the suite never
oversubscribes them (an oversubscribed OpenMP pool slows torch by an order of magnitude).
"""

import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get("REGCONV_TEST_THREADS", "1")))


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture(scope="session")
def energy_checkpoint(tmp_path_factory):
    """A small SchNet trained for a few epochs on a harmonic pair potential (meV, meV/Å)."""
    from regconv.training import DatasetDataModule, RegressionTask, energy_forces_task
    from tests.helpers import quiet_trainer
    from tests.training.test_energy_forces import frames

    torch.manual_seed(0)
    data = frames(48, seed=1)
    dm = DatasetDataModule(energy_forces_task("pairs"), train=data, val=data[:8], batch_size=8)
    options = {"hidden": 16, "layers": 2, "num_rbf": 16, "cutoff": 4.0}
    task = RegressionTask(
        "schnet", options, task=energy_forces_task("pairs"), loss="mse", lr=3e-3, ema_decay=None
    )
    trainer = quiet_trainer(max_epochs=4)
    trainer.fit(task, datamodule=dm)
    path = tmp_path_factory.mktemp("ckpt") / "energy.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def copper_checkpoint(tmp_path_factory):
    """A small SchNet trained for a few epochs on strained, rattled copper cells labelled by
    EMT (energies, forces and stress; meV units)."""
    from regconv.training import DatasetDataModule, RegressionTask, energy_forces_task
    from tests.helpers import quiet_trainer
    from tests.training.test_stress import strained_copper

    torch.manual_seed(0)
    data = strained_copper(32, seed=5)
    spec = energy_forces_task("cu", stress=True)
    dm = DatasetDataModule(spec, train=data, val=data[:8], batch_size=4)
    options = {"hidden": 16, "layers": 2, "num_rbf": 16, "cutoff": 4.0, "max_z": 29}
    task = RegressionTask("schnet", options, task=spec, loss="mse", lr=3e-3, ema_decay=None)
    trainer = quiet_trainer(max_epochs=6)
    trainer.fit(task, datamodule=dm)
    path = tmp_path_factory.mktemp("ckpt") / "copper.ckpt"
    trainer.save_checkpoint(path)
    return path
