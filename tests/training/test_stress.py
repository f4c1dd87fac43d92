"""Energy + force + stress training on periodic frames: the spec, the loss, a quick fit that
learns the stress of strained copper cells, and the stress errors in data units."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch, Data

from ase.calculators.emt import EMT
from regconv.data.crystals import copper_cell
from regconv.training import DatasetDataModule, RegressionTask, energy_forces_task
from regconv.training.energy_forces import energy_force_losses
from regconv.training.spec import TaskSpec
from tests.helpers import quiet_trainer


def strained_copper(count: int, seed: int) -> list[Data]:
    """Rattled 32-atom copper cells under random strains (±3 %), labelled by EMT (meV, meV/Å,
    meV/Å³)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        atoms = copper_cell()
        strain = rng.uniform(-0.03, 0.03, (3, 3))
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + 0.5 * (strain + strain.T)), scale_atoms=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        out.append(
            Data(
                z=torch.from_numpy(atoms.numbers.copy()),
                pos=torch.from_numpy(atoms.positions).float(),
                energy=torch.tensor([1000 * atoms.get_potential_energy()], dtype=torch.float64),
                forces=torch.from_numpy(1000 * atoms.get_forces()).float(),
                cell=torch.from_numpy(atoms.cell.array[None]).float(),
                pbc=torch.ones(1, 3, dtype=torch.bool),
                stress=torch.from_numpy(1000 * atoms.get_stress(voigt=False)[None]).float(),
            )
        )
    return out


def test_the_stress_spec():
    spec = TaskSpec.from_dict(energy_forces_task("cu", stress=True))
    assert spec.names == ["energy", "forces", "stress"] and spec.units[2] == "meV/Å^3"
    bad = energy_forces_task("cu", stress=True)
    bad["targets"] = bad["targets"][::-1]
    with pytest.raises(ValueError, match="energy_forces"):
        TaskSpec.from_dict(bad)


def test_the_stress_loss_vanishes_at_the_target_and_needs_stress():
    batch = Batch.from_data_list(strained_copper(2, seed=0))
    m, s = torch.tensor(0.0), torch.tensor(50.0)
    n = torch.tensor([32.0, 32.0])
    u = ((batch.energy - n * m) / s).float().unsqueeze(1)
    f = batch.forces / s
    exact = batch.stress / s
    zero = energy_force_losses(u, f, batch, m, s, "mse", 1.0, 100.0, exact, 10.0)
    assert torch.allclose(zero, torch.zeros(2), atol=1e-10)
    off = energy_force_losses(u, f, batch, m, s, "mse", 1.0, 100.0, exact + 0.01, 10.0)
    volume_per_atom = float(torch.linalg.det(batch.cell[0].double())) / 32
    assert float(off[0]) == pytest.approx(10.0 * (0.01 * volume_per_atom) ** 2, rel=1e-4)
    del batch.stress
    with pytest.raises(ValueError, match="stress"):
        energy_force_losses(u, f, batch, m, s, "mse", 1.0, 100.0, exact, 10.0)


def test_a_quick_fit_learns_the_stress_of_strained_cells():
    torch.manual_seed(0)
    train, test = strained_copper(48, seed=1), strained_copper(16, seed=2)
    spec = energy_forces_task("cu", stress=True)
    dm = DatasetDataModule(spec, train=train, val=test, test=test, batch_size=4, seed=0)
    task = RegressionTask(
        "schnet", {"hidden": 32, "layers": 2, "num_rbf": 16, "cutoff": 4.0, "max_z": 29},
        task=spec, loss="mse", lr=3e-3, warmup_steps=10, ema_decay=None,
    )  # fmt: skip
    quiet_trainer(max_epochs=15).fit(task, datamodule=dm)
    res = quiet_trainer().test(task, datamodule=dm, verbose=False)[0]
    true = torch.cat([d.stress for d in test])  # [16, 3, 3]
    baseline = (true - true.mean(0)).abs().mean()  # predicting the mean stress
    assert res["test/mae_stress_meV_A3"] <= baseline / 2, (res, float(baseline))
    last = task.last_results["test"]["targets"]
    assert last["stress"]["unit"] == "meV/Å^3"
    # the reported error is the error of the predictor's stress
    from regconv.training.inference import Predictor

    predictor = Predictor(task.net, task.spec, *task.standardisation)
    sigma = predictor.potential(Batch.from_data_list(test), stress=True)["stress"]
    mae = (sigma - true).abs().mean()
    assert float(mae) == pytest.approx(last["stress"]["mae"], rel=1e-4)
