"""Every registered model as an energy model: its autograd forces are minus the gradient of its
energy (central finite differences, float64) and are equivariant (they rotate and reflect with
the molecule, are unchanged by translations, and permute with the atoms)."""

import copy

import pytest
import torch

from regconv import models
from regconv.geometry import random_rotation
from regconv.graph import transform_batch
from regconv.testing import assert_equivariant, conservation_error, forces_of, random_molecules

SMALL = {"hidden": 16, "layers": 2}
BASIS, O8 = {"basis": {"dim": 16}}, {"space": {"num_orientations": 8}}
EXTRA = {
    "r3": BASIS,
    "r3-nbody": BASIS,
    "r3s2": {**BASIS, **O8},
    "r3s2-nbody": {**BASIS, **O8},
    "r3s2-qm9": O8,
    "r3s2-attention": {**BASIS, **O8, "block": {"heads": 2}},
    "se3": {**BASIS, "space": {"group": "tetrahedral"}},
    "schnet": {"num_rbf": 12},
}
EXACT = {"schnet", "egnn", "dimenet", "spherenet", "r3", "r3-nbody", "r3s2-edge"}


def energy_model(name):
    """A small float64 energy model ``[B, 1]`` with its residual branches switched on."""
    kw = {**SMALL, **EXTRA.get(name, {})}
    if "layer_scale" in models.options(name):
        kw["layer_scale"] = 1.0
    if "block" in models.options(name):
        kw["block"] = {**kw.get("block", {}), "layer_scale": 1.0}
    if name.endswith("-nbody"):
        kw.update(in_features=1, vector_in=1)
    torch.manual_seed(0)
    return models.create(name, num_outputs=1, output="graph", **kw).double().eval()


def batch_for(name):
    nbody = name.endswith("-nbody")
    return random_molecules(2, atoms=(3, 5), seed=11, in_features=int(nbody), vector_in=int(nbody))


@pytest.mark.parametrize("name", models.available())
def test_forces_are_minus_the_gradient_of_the_energy(name):
    err = conservation_error(energy_model(name), batch_for(name), step=1e-5)
    assert err < 1e-6, f"{name}: autograd forces differ from finite differences by {err:.2e}"


@pytest.mark.parametrize("name", models.available())
def test_forces_are_equivariant(name):
    forces = forces_of(energy_model(name))
    # translations and permutations are exact on every space
    assert_equivariant(forces, batch_for(name), tol=1e-9, rotations=False, reflections=False)
    if name in EXACT:
        assert_equivariant(forces, batch_for(name), tol=1e-9, translations=False)


@pytest.mark.parametrize("name", sorted(set(models.available()) - EXACT))
def test_grid_forces_rotate_exactly_with_a_rotated_grid(name):
    # the whole rotation error of a grid fibre is quadrature: rotating the grid with the
    # molecule gives exactly rotated forces (under a generic rotation alone the force error of
    # an 8-point grid is ~50 % at this random initialisation, more than the energy's)
    model = energy_model(name)
    batch = batch_for(name)
    r = random_rotation(torch.Generator().manual_seed(4))
    rotated = copy.deepcopy(model)
    rotated.space = model.space.rotated(r)
    moved = transform_batch(batch, rotation=r)
    expected = forces_of(model)(batch) @ r.T
    torch.testing.assert_close(forces_of(rotated)(moved), expected, rtol=1e-9, atol=1e-12)


def test_forces_are_nonzero_and_do_not_touch_the_callers_batch():
    batch = batch_for("schnet")
    before = batch.pos.clone()
    f = forces_of(energy_model("schnet"))(batch)
    assert f.shape == (batch.num_nodes, 1, 3) and f.abs().max() > 0
    assert torch.equal(batch.pos, before) and not batch.pos.requires_grad


def test_a_model_with_vector_outputs_is_no_energy_model():
    model = models.create("r3", output="node_vector", hidden=8, layers=1, basis={"dim": 8})
    model = model.double()
    with pytest.raises(ValueError, match="energy model"):
        forces_of(model)(random_molecules(1, seed=0))
