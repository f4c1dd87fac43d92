"""Every registered model on periodic input: the cell moves with the atoms under rotations and
reflections, a lattice translation of an atom and a 2x2x2 supercell change nothing, forces
follow, the stress is the strain derivative of the energy, and a batch with a cell but no
periodic axis is a molecule."""

import pytest
import torch

from regconv import models
from regconv.geometry import random_rotation
from regconv.graph import transform_batch
from regconv.testing import (
    assert_equivariant,
    finite_difference_stress,
    forces_of,
    periodic_errors,
    random_crystals,
    random_molecules,
)
from regconv.training.energy_forces import standardised_energy_forces_stress

SMALL = {"hidden": 16, "layers": 2}
FIBRE = {**SMALL, "basis": {"dim": 16}}
CUTOFF = 3.0  # below the cells' edges of about 4 Å: several images of a neighbour in some cells
SMALL_BY_NAME = {
    "dimenet": {**SMALL, "num_radial": 4, "num_spherical": 3},
    "egnn": SMALL,
    "r3": FIBRE,
    "r3-nbody": FIBRE,
    "r3s2": {**FIBRE, "space": {"num_orientations": 8}},
    "r3s2-attention": {
        **FIBRE, "space": {"num_orientations": 8}, "block": {"heads": 2}
    },
    "r3s2-edge": {**SMALL, "basis_dim": 16},
    "r3s2-nbody": {**FIBRE, "space": {"num_orientations": 8}},
    "r3s2-qm9": {**FIBRE, "space": {"num_orientations": 8}},
    "schnet": {**SMALL, "num_rbf": 12},
    "se3": {**FIBRE, "space": {"group": "tetrahedral"}},
    "spherenet": {**SMALL, "num_radial": 4, "num_spherical": 3, "num_torsion": 2},
}
NAMES = sorted(SMALL_BY_NAME)
#: fibre integrals replaced by grid sums: rotations are approximate, all else exact
GRID = {"r3s2", "r3s2-attention", "r3s2-nbody", "r3s2-qm9", "se3"}
#: the N-body variants read charges and velocities (in_features=1, vector_in=1) and output node
#: vectors
NBODY = {"r3-nbody", "r3s2-nbody"}


def test_every_registered_model_is_covered():
    assert set(NAMES) == set(models.available())


def make(name, dtype=torch.float64, **extra):
    torch.manual_seed(0)
    options = {**SMALL_BY_NAME[name], "cutoff": CUTOFF, **extra}
    model = models.create(name, **options).to(dtype)
    with torch.no_grad():  # make the residual branches count (layer scale starts near zero)
        for p_name, p in model.named_parameters():
            if p_name.endswith("gamma"):
                p.fill_(1.0)
    return model.eval()


def crystals(name, seed=0, sizes=(5, 6), pbc=(True, True, True), dtype=torch.float64):
    batch = random_crystals(sizes, pbc=pbc, seed=seed, max_z=5, dtype=dtype)
    if name in NBODY:
        g = torch.Generator().manual_seed(seed)
        batch.x = torch.randn(batch.pos.shape[0], 1, generator=g, dtype=dtype)
        batch.vec = torch.randn(batch.pos.shape[0], 1, 3, generator=g, dtype=dtype)
    return batch


@pytest.mark.parametrize("name", NAMES)
def test_lattice_translations_and_supercells_change_nothing(name):
    model = make(name)
    batch = crystals(name)
    # r3s2-qm9 pools by the mean (intensive targets): a supercell has the same output
    errors = periodic_errors(model, batch, extensive=name != "r3s2-qm9")
    assert errors["lattice_translation"] < 1e-10, errors
    assert errors["supercell"] < 1e-10, errors


@pytest.mark.parametrize("name", NAMES)
def test_rotating_cell_and_atoms_together(name):
    model = make(name)
    batch = crystals(name, seed=1)
    if name in GRID:
        # translations and permutations are exact; a rotation of atoms and cell is exact when
        # the grid turns with them (the grid's own error is the molecules' one)
        assert_equivariant(model, batch, tol=1e-10, rotations=False, reflections=False)
        r = random_rotation(torch.Generator().manual_seed(1))
        ref = model(batch)
        if ref.dim() == 3:  # node vectors turn with the input
            ref = ref @ r.T
        space = model.space
        model.space = space.rotated(r)
        try:
            moved = model(transform_batch(batch, rotation=r))
        finally:
            model.space = space
        assert torch.allclose(moved, ref, rtol=1e-10, atol=1e-12)
        # the cell did turn: without it the output changes
        unturned = transform_batch(batch, rotation=r)
        unturned.cell = batch.cell
        model.space = space.rotated(r)
        try:
            assert not torch.allclose(model(unturned), ref, rtol=1e-6, atol=1e-8)
        finally:
            model.space = space
    else:
        assert_equivariant(model, batch, tol=1e-10)


@pytest.mark.parametrize("name", ["dimenet", "egnn", "r3", "r3s2", "schnet", "spherenet"])
def test_forces_of_periodic_systems(name):
    model = make(name)
    batch = crystals(name, seed=2)
    forces = forces_of(model)
    errors = periodic_errors(forces, batch)
    assert errors["lattice_translation"] < 1e-10 and errors["supercell"] < 1e-10, errors
    if name not in GRID:
        assert_equivariant(forces, batch, tol=1e-10)


@pytest.mark.parametrize("name", ["dimenet", "egnn", "r3", "r3s2", "schnet", "spherenet"])
def test_stress_is_the_strain_derivative_of_the_energy(name):
    model = make(name)
    batch = crystals(name, seed=3)
    _, _, sigma = standardised_energy_forces_stress(model, batch, create_graph=False)
    reference = finite_difference_stress(lambda b: model(b)[:, 0], batch, step=1e-5)
    assert sigma.shape == (2, 3, 3)
    assert torch.allclose(sigma, sigma.transpose(1, 2), atol=1e-12)
    scale = reference.abs().max()
    assert scale > 1e-6
    assert (sigma - reference).abs().max() < 1e-6 * scale


def test_stress_of_a_supercell_is_the_stress_of_its_cell():
    from regconv.testing import supercell

    model = make("r3")
    batch = crystals("r3", seed=4)
    big, _ = supercell(batch, (2, 1, 2))
    _, _, small_sigma = standardised_energy_forces_stress(model, batch, create_graph=False)
    _, _, big_sigma = standardised_energy_forces_stress(model, big, create_graph=False)
    assert torch.allclose(big_sigma, small_sigma, atol=1e-10 * float(small_sigma.abs().max()))


def test_stress_needs_three_periodic_axes():
    model = make("r3")
    batch = crystals("r3", pbc=(True, True, False))
    with pytest.raises(ValueError, match="three axes"):
        standardised_energy_forces_stress(model, batch, create_graph=False)


@pytest.mark.parametrize("name", ["r3", "schnet", "dimenet", "egnn"])
def test_slabs_translate_along_their_periodic_axes_only(name):
    model = make(name)
    batch = crystals(name, seed=5, pbc=(True, False, True))
    errors = periodic_errors(model, batch, reps=(2, 1, 2))
    assert errors["lattice_translation"] < 1e-10 and errors["supercell"] < 1e-10, errors
    moved = batch.clone()  # along the open axis the system is not periodic: atom 0 moves away
    moved.pos = batch.pos.clone()
    moved.pos[0] = batch.pos[0] + batch.cell[0, 1]
    assert not torch.allclose(model(moved), model(batch))


@pytest.mark.parametrize("name", ["r3", "schnet", "spherenet"])
def test_a_cell_without_periodic_axes_is_a_molecule(name):
    model = make(name)
    batch = random_molecules(2, seed=6)
    batch.cell = 3.0 * torch.eye(3, dtype=torch.float64).expand(2, 3, 3).clone()
    batch.pbc = torch.zeros(2, 3, dtype=torch.bool)
    plain = random_molecules(2, seed=6)
    assert torch.equal(model(batch), model(plain))


def test_large_cells_give_the_molecule():
    # a cell much wider than the molecule plus the cutoff: no atom sees an image
    model = make("r3")
    batch = random_molecules(2, seed=7)
    plain = model(batch)
    batch.cell = 100.0 * torch.eye(3, dtype=torch.float64).expand(2, 3, 3).clone()
    batch.pbc = torch.ones(2, 3, dtype=torch.bool)
    assert torch.allclose(model(batch), plain, rtol=1e-12, atol=1e-12)


def test_bad_periodic_input_is_refused():
    model = make("r3")
    batch = crystals("r3")
    no_cell = batch.clone()
    del no_cell.cell
    with pytest.raises(ValueError, match="no cell"):
        model(no_cell)
    nan = batch.clone()
    nan.cell = batch.cell.clone()
    nan.cell[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(nan)
    singular = batch.clone()
    singular.cell = batch.cell.clone()
    singular.cell[1, 2] = singular.cell[1, 0]
    with pytest.raises(ValueError, match="singular"):
        model(singular)
    wrong = batch.clone()
    wrong.cell = batch.cell[:1].clone()
    with pytest.raises(ValueError, match="cell"):
        model(wrong)
    with pytest.raises(ValueError, match="cutoff"):
        make("r3", cutoff=None)(batch)
