"""Energy + force training, a kind of the one RegressionTask: on an analytic potential the
forces are learned (MAE at most a fifth of the zero-force baseline) in seconds; forces are the
gradient of the predicted energy; the tabulated kernel is refused; metrics carry both targets."""

import pytest
import torch
from torch_geometric.data import Data

from regconv.training import DatasetDataModule, RegressionTask, energy_forces_task
from regconv.training.evaluation import training_losses
from regconv.training.spec import TaskSpec
from tests.helpers import quiet_trainer

R0, K = 1.5, 400.0  # meV / Å^2


def pair_potential(pos):
    """``E = sum_{i<j} K (r_ij - R0)^2`` (meV) and its forces ``-dE/dx`` (meV/Å)."""
    pos = pos.clone().requires_grad_(True)
    d = torch.cdist(pos, pos)
    iu = torch.triu_indices(pos.shape[0], pos.shape[0], 1)
    energy = (K * (d[iu[0], iu[1]] - R0).square()).sum()
    (grad,) = torch.autograd.grad(energy, pos)
    return energy.detach(), -grad


def frames(count, seed):
    gen = torch.Generator().manual_seed(seed)
    base = torch.tensor([[0.0, 0, 0], [1.5, 0, 0], [0.75, 1.3, 0], [0.75, 0.43, 1.22]])
    out = []
    for _ in range(count):
        pos = base + 0.15 * torch.randn(4, 3, generator=gen)
        e, f = pair_potential(pos)
        out.append(Data(pos=pos, z=torch.tensor([6, 6, 6, 6]), energy=e.reshape(1), forces=f))
    return out


def test_energy_force_spec_and_its_checks():
    spec = TaskSpec.from_dict(energy_forces_task())
    assert spec.model_output == "graph" and spec.num_outputs == 1
    assert [t.metric_name("val", "mae") for t in spec.targets] == [
        "val/mae_energy_meV",
        "val/mae_forces_meV_A",
    ]
    bad = energy_forces_task()
    bad["targets"] = bad["targets"][:1]
    with pytest.raises(ValueError, match="energy_forces"):
        TaskSpec.from_dict(bad)


def test_the_tabulated_kernel_refuses_force_training():
    with pytest.raises(ValueError, match="table_step"):
        RegressionTask("schnet", {"table_step": 0.01}, task=energy_forces_task())


def test_a_quick_fit_learns_the_forces_of_an_analytic_potential():
    torch.manual_seed(0)
    train, test = frames(64, seed=1), frames(32, seed=2)
    dm = DatasetDataModule(energy_forces_task("pairs"), train=train, val=test, test=test,
                           batch_size=8, seed=0)  # fmt: skip
    task = RegressionTask(
        "schnet", {"hidden": 32, "layers": 2, "num_rbf": 16, "cutoff": 4.0},
        task=energy_forces_task("pairs"), loss="mse", lr=3e-3, warmup_steps=10, ema_decay=None,
        rotation_augment=True,
    )  # fmt: skip
    quiet_trainer(max_epochs=25).fit(task, datamodule=dm)
    baseline = torch.cat([d.forces for d in test]).abs().mean()
    res = quiet_trainer().test(task, datamodule=dm, verbose=False)[0]
    assert res["test/mae_forces_meV_A"] <= baseline / 5, (res, float(baseline))
    assert "test/mae_energy_meV" in res
    # the test's parity pairs: an energy per molecule, the forces of every atom, in data units,
    # with the errors that were reported
    last = task.last_results["test"]
    atoms = sum(d.num_nodes for d in test)
    assert last["pred"].shape == last["true"].shape == (len(test), 1)
    assert last["force_pred"].shape == last["force_true"].shape == (atoms, 3)
    assert torch.equal(last["force_true"], torch.cat([d.forces for d in test]).float())
    for name, prefix in (("energy", ""), ("forces", "force_")):
        mae = (last[prefix + "pred"] - last[prefix + "true"]).abs().mean()
        assert float(mae) == pytest.approx(last["targets"][name]["mae"], rel=1e-5)


def test_predicted_forces_are_minus_the_gradient_of_the_predicted_energy():
    task = RegressionTask("schnet", {"hidden": 16, "layers": 2, "num_rbf": 8},
                          task=energy_forces_task(), ema_decay=None).double()  # fmt: skip
    from torch_geometric.data import Batch

    batch = Batch.from_data_list(frames(2, seed=3))
    batch.pos = batch.pos.double()
    energy, forces = task.energy_forces(batch)
    h = 1e-5
    for i, d in ((0, 0), (5, 2)):
        plus, minus = batch.clone(), batch.clone()
        plus.pos = batch.pos.clone()
        minus.pos = batch.pos.clone()
        plus.pos[i, d] += h
        minus.pos[i, d] -= h
        fd = -(task.energy_forces(plus)[0].sum() - task.energy_forces(minus)[0].sum()) / (2 * h)
        assert torch.allclose(forces[i, d], fd, rtol=1e-6, atol=1e-9)
    assert energy.shape == (2,) and forces.shape == (8, 3)


#: every registered constructor (the N-body variants share r3's and r3s2's)
CONSTRUCTORS = ["dimenet", "egnn", "r3", "r3s2", "r3s2-attention", "r3s2-edge", "schnet", "se3",
                "spherenet"]  # fmt: skip


def test_the_list_covers_every_registered_model():
    from regconv import models

    # (r3s2-qm9, the QM9 preset of r3s2, reads its kernel from the linear table: no forces)
    assert set(models.available()) - {"r3-nbody", "r3s2-nbody", "r3s2-qm9"} == set(CONSTRUCTORS)


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_every_registered_model_takes_an_energy_force_training_step(name):
    # the force loss needs the second derivative through every layer (create_graph)
    from torch_geometric.data import Batch

    from regconv import models

    small = {"hidden": 8, "layers": 1}
    if "basis_dim" in models.options(name):
        small["basis_dim"] = 8
    if "basis" in models.options(name):
        small["basis"] = {"dim": 8}
    if name in ("r3s2", "r3s2-attention"):
        small["space"] = {"num_orientations": 6}
    if name == "se3":
        small["space"] = {"group": "tetrahedral"}
    if name == "r3s2-attention":
        small["block"] = {"heads": 2}
    torch.manual_seed(0)
    task = RegressionTask(name, small, task=energy_forces_task(), ema_decay=None)
    batch = Batch.from_data_list(frames(2, seed=4))
    hp = task.hparams
    weights = (hp.energy_weight, hp.force_weight)
    losses = training_losses(
        task.net, batch, task.spec.kind, task.standardisation, hp.loss, weights
    )
    grads = torch.autograd.grad(losses.mean(), list(task.net.parameters()), allow_unused=True)
    used = [g for g in grads if g is not None]
    assert used and all(torch.isfinite(g).all() for g in used)
    assert any(g.abs().max() > 0 for g in used)
