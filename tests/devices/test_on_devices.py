"""Every registered model on every available device (the CPU, and CUDA where there is one):
float32 outputs, gradients and energy + force predictions on the device agree with the float64
reference on the CPU, and stay on the device. ``scripts/gpu_check.sh`` runs this file on a GPU
machine; on a CPU-only machine the cases are the CPU's (float32 against float64)."""

from __future__ import annotations

import pytest
import torch

from regconv import models
from regconv.testing import random_molecules
from regconv.training.energy_forces import standardised_energy_forces

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SMALL = {"hidden": 16, "layers": 2, "basis_dim": 16, "num_rbf": 16, "cutoff": 5.0}
#: the fibre models' components at the same size, merged into each model's own
SMALL_COMPONENTS = {"basis": {"dim": 16}}


#: the N-body variants read a velocity per node and predict a vector per node
NODE_VECTOR = {"num_outputs": 1, "output": "node_vector", "in_features": 1, "vector_in": 1}


def _model(name: str) -> torch.nn.Module:
    accepted = models.options(name)
    options = {k: v for k, v in SMALL.items() if k in accepted}
    if "space" in accepted:
        options.update(SMALL_COMPONENTS)
        if accepted["space"]["kind"] == "r3s2":
            options["space"] = {"num_orientations": 8}
        if (accepted["block"] or {}).get("kind") == "attention":
            options["block"] = {"heads": 2}
    if name.endswith("-nbody"):
        options.update(NODE_VECTOR)
    torch.manual_seed(0)
    return models.create(name, **options).double()


def _batch(name: str, seed: int):
    extra = {"in_features": 1, "vector_in": 1} if name.endswith("-nbody") else {}
    return random_molecules(4, seed=seed, **extra)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", models.available())
def test_model_runs_on_the_device_and_matches_the_float64_reference(name, device):
    reference = _model(name)
    batch = _batch(name, seed=1)
    expected = reference(batch).detach()
    pos = batch.pos.clone().requires_grad_(True)
    batch64 = batch.clone()
    batch64.pos = pos
    grad64 = torch.autograd.grad(reference(batch64).sum(), pos)[0]

    model = _model(name).float().to(device)
    on = batch.clone().to(device)
    for key in ("x", "vec"):
        if key in on:
            on[key] = on[key].float()
    on.pos = on.pos.float().requires_grad_(True)
    out = model(on)
    assert out.device.type == device and out.dtype == torch.float32
    grad = torch.autograd.grad(out.sum(), on.pos)[0]
    scale = float(expected.abs().max()) + 1e-12
    torch.testing.assert_close(out.double().cpu(), expected, rtol=1e-4, atol=1e-4 * scale)
    gscale = float(grad64.abs().max()) + 1e-12
    torch.testing.assert_close(grad.double().cpu(), grad64, rtol=1e-3, atol=1e-3 * gscale)


@pytest.mark.parametrize("device", DEVICES)
def test_energy_and_forces_with_rotation_averaging_stay_on_the_device(device):
    model = _model("r3s2").float().to(device)
    batch = random_molecules(3, seed=2, dtype=torch.float32).to(device)
    u, f = standardised_energy_forces(model, batch, create_graph=True, rotations=2, seed=0)
    assert u.device.type == device and f.device.type == device
    assert f.shape == batch.pos.shape and torch.isfinite(f).all()
    (u.sum() + f.square().sum()).backward()  # second derivatives on the device
    assert all(p.grad is None or p.grad.device.type == device for p in model.parameters())
