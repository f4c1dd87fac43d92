"""The ASE calculator of energy + force models: forces are minus the gradient of the energy,
rotate with the molecule, are cached until the atoms change; NVE conserves the total energy;
bad checkpoints and bad atoms are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet

from ase import Atoms, units
from regconv.ase import RegconvCalculator
from regconv.geometry import random_rotation
from regconv.training import RegressionTask, qm9_task
from tests.helpers import quiet_trainer


def molecule():
    pos = [[0.0, 0, 0], [1.45, 0.1, 0], [0.7, 1.3, 0.05], [0.75, 0.4, 1.25]]
    return Atoms("C4", positions=pos)


def assert_forces_are_minus_the_gradient(atoms, coordinates, h=1e-4):
    """The calculator's forces against central differences of its energy, per (atom, axis)."""
    forces = atoms.get_forces()
    for i, d in coordinates:
        e = []
        for sign in (1, -1):
            moved = atoms.copy()
            moved.calc = atoms.calc
            moved.positions[i, d] += sign * h
            e.append(moved.get_potential_energy())
        assert forces[i, d] == pytest.approx(-(e[0] - e[1]) / (2 * h), rel=1e-6, abs=1e-9)


def crystal():
    """Four carbon atoms in a skewed periodic cell narrower than twice the model's 4 Å cutoff."""
    cell = [[3.6, 0.0, 0.0], [0.5, 3.4, 0.0], [0.3, -0.4, 3.8]]
    pos = [[0.0, 0, 0], [1.5, 0.2, 0.1], [0.7, 1.9, 0.4], [2.2, 1.1, 2.0]]
    return Atoms("C4", positions=pos, cell=cell, pbc=True)


def test_periodic_atoms_give_stress_the_strain_derivative_of_the_energy(energy_checkpoint):
    atoms = crystal()
    atoms.calc = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    stress = atoms.get_stress()  # eV/Å^3, Voigt
    assert stress.shape == (6,) and np.abs(stress).max() > 1e-6
    numerical = atoms.calc.calculate_numerical_stress(atoms, d=1e-5)  # ASE's own differences
    np.testing.assert_allclose(stress, numerical, rtol=1e-5, atol=1e-9)
    forces = atoms.get_forces()
    assert_forces_are_minus_the_gradient(atoms, ((0, 0), (3, 2)))
    # the same crystal, repeated and with an atom moved by a lattice vector
    big = atoms.repeat((2, 1, 2))
    big.positions[5] += big.cell[0]
    big.calc = atoms.calc
    assert big.get_potential_energy() == pytest.approx(4 * atoms.get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(big.get_stress(), stress, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(big.get_forces()[:4], forces, atol=1e-10)


def test_slabs_have_forces_but_no_stress(energy_checkpoint):
    from ase.calculators.calculator import PropertyNotImplementedError

    atoms = crystal()
    atoms.pbc = (True, True, False)
    atoms.calc = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    assert np.isfinite(atoms.get_forces()).all()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


def test_forces_are_minus_the_gradient_of_the_energy(energy_checkpoint):
    atoms = molecule()
    atoms.calc = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    assert_forces_are_minus_the_gradient(atoms, ((0, 0), (2, 1), (3, 2)))
    assert set(atoms.calc.results) == {"energy", "free_energy", "forces", "energies"}
    assert atoms.get_potential_energy() == atoms.calc.results["free_energy"]


def test_forces_rotate_with_the_molecule_and_units_are_ev(energy_checkpoint):
    calc = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    atoms = molecule()
    atoms.calc = calc
    f, e = atoms.get_forces(), atoms.get_potential_energy()
    r = random_rotation(torch.Generator().manual_seed(3)).numpy()
    turned = Atoms("C4", positions=atoms.positions @ r.T)
    turned.calc = calc
    np.testing.assert_allclose(turned.get_forces(), f @ r.T, atol=1e-9)
    assert turned.get_potential_energy() == pytest.approx(e, abs=1e-9)
    # eV: the model predicts meV; the calculator reports a thousandth of the task's energy
    from torch_geometric.data import Batch, Data

    batch = Batch.from_data_list([Data(pos=torch.tensor(atoms.positions), z=torch.tensor([6] * 4))])
    assert e == pytest.approx(float(calc.task.energy_forces(batch)[0][0]) / 1000.0, rel=1e-12)


def test_recomputes_only_when_the_atoms_change(energy_checkpoint, monkeypatch):
    calc = RegconvCalculator(str(energy_checkpoint))
    calls = []
    original = calc.task.potential
    counted = lambda *a, **k: calls.append(1) or original(*a, **k)  # noqa: E731
    monkeypatch.setattr(calc.task, "potential", counted)
    atoms = molecule()
    atoms.calc = calc
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_potential_energy()
    assert len(calls) == 1
    atoms.positions[0, 0] += 0.01
    atoms.get_forces()
    assert len(calls) == 2


def test_short_nve_run_conserves_the_total_energy(energy_checkpoint):
    atoms = molecule()
    atoms.calc = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    total = []
    dyn.attach(lambda: total.append(atoms.get_total_energy()), interval=1)
    dyn.run(200)
    drift = (max(total) - min(total)) / len(atoms) * 1000.0  # meV per atom
    # measured 0.0002 meV/atom (2026-12-01); the bound leaves a factor 50
    assert drift < 0.01, f"total energy moved by {drift:.4f} meV/atom over 100 fs"


def test_bad_checkpoints_and_atoms_are_clear_errors(energy_checkpoint, tmp_path):
    with pytest.raises(ValueError, match="no such checkpoint"):
        RegconvCalculator(str(tmp_path / "missing.ckpt"))
    with pytest.raises(ValueError, match="dtype"):
        RegconvCalculator(str(energy_checkpoint), dtype="float16")
    calc = RegconvCalculator(str(energy_checkpoint))
    uranium = Atoms("U", positions=[[0, 0, 0]])
    uranium.calc = calc
    with pytest.raises(ValueError, match="unknown element"):
        uranium.get_potential_energy()
    nan_cell = crystal()
    nan_cell.cell[0, 0] = np.nan
    nan_cell.calc = calc
    with pytest.raises(ValueError, match="cell contains NaN"):
        nan_cell.get_forces()
    flat = crystal()
    flat.cell[2] = flat.cell[0]
    flat.calc = calc
    with pytest.raises(ValueError, match="singular"):
        flat.get_forces()
    # a checkpoint of a property task (no forces)
    prop = RegressionTask("schnet", {"hidden": 8, "layers": 1, "num_rbf": 4}, task=qm9_task("homo"))
    trainer = quiet_trainer(max_epochs=0)
    trainer.strategy.connect(prop)
    path = tmp_path / "homo.ckpt"
    trainer.save_checkpoint(path)
    with pytest.raises(ValueError, match="no forces"):
        RegconvCalculator(str(path))


@pytest.mark.parametrize("rotations", [0, 3])
def test_per_atom_energies_add_up_to_the_energy(energy_checkpoint, rotations):
    atoms = molecule()
    atoms.calc = RegconvCalculator(str(energy_checkpoint), dtype="float64", rotations=rotations)
    assert "energies" in atoms.calc.implemented_properties
    per_atom = atoms.get_potential_energies()
    assert per_atom.shape == (4,) and np.ptp(per_atom) > 0
    assert per_atom.sum() == pytest.approx(atoms.get_potential_energy(), rel=1e-10, abs=1e-12)


def test_models_whose_energy_is_per_edge_report_no_atom_energies():
    from regconv import models
    from regconv.training import Predictor, TaskSpec, energy_forces_task
    from regconv.testing import random_molecules

    spec = TaskSpec.from_dict(energy_forces_task())
    ones, zeros, mask = torch.ones(2), torch.zeros(2), torch.tensor([True, False])
    dimenet = models.create("dimenet", hidden=8, layers=1, num_radial=4, num_spherical=3)
    predictor = Predictor(dimenet, spec, zeros, ones, mask)
    assert not predictor.has_atom_energies
    with pytest.raises(ValueError, match="per-atom energies"):
        predictor.atom_energies(random_molecules(2, dtype=torch.float32))
    schnet = Predictor(models.create("schnet", hidden=8, layers=1), spec, zeros, ones, mask)
    assert schnet.has_atom_energies


def test_model_options_swap_the_kernel_table_of_the_same_weights(energy_checkpoint, tmp_path):
    from regconv.cli.md_check import run_md_check
    from regconv.md import RegconvForces

    exact = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    c2 = {"table_step": 0.01, "table_order": "cubic_bspline"}  # SchNet's flat table options
    table = RegconvCalculator(str(energy_checkpoint), dtype="float64", model_options=c2)
    assert exact.task.net.table is None and table.task.net.table.order == "cubic_bspline"
    e = []
    for calc in (exact, table):
        atoms = molecule()
        atoms.calc = calc
        e.append((atoms.get_potential_energy(), atoms.get_forces()))
    assert e[1][0] == pytest.approx(e[0][0], rel=1e-6)  # the same weights, O(h^4) apart
    np.testing.assert_allclose(e[1][1], e[0][1], rtol=1e-4, atol=1e-6)
    forces = RegconvForces.from_checkpoint(energy_checkpoint, model_options=c2)
    assert forces.calc.task.net.table.order == "cubic_bspline"
    with pytest.raises(ValueError, match="table_order"):
        RegconvCalculator(str(energy_checkpoint), model_options={"table_order": "quintic"})
    # on the command line: bad options are usage errors
    xyz = tmp_path / "m.xyz"
    molecule().write(xyz)
    argv = ["nve", "--ckpt", str(energy_checkpoint), "--input", str(xyz), "--ps", "0.001",
            "--temperatures", "300", "--out", str(tmp_path / "nve")]  # fmt: skip
    assert run_md_check([*argv, "--model-options", "table_step=0.01,table_order=cubic_bspline"]) == 0
    with pytest.raises(SystemExit):
        run_md_check([*argv, "--model-options", "table_step"])


def test_model_options_swap_the_cutoff_envelope_of_the_same_weights(energy_checkpoint):
    # the tapered envelope equals the cosine below r_c - tail: a molecule whose pairs all lie
    # there gets the same energy; stretched so that pairs reach the tail, a different one
    options = {"envelope": {"kind": "tapered", "tail": 1.0}}
    cosine = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    taper = RegconvCalculator(str(energy_checkpoint), dtype="float64", model_options=options)
    assert type(taper.task.net.envelope).__name__ == "TaperedCosineCutoff"
    assert taper.task.net.envelope.tail == 1.0
    energies = []
    for scale in (1.0, 2.2):
        atoms = molecule()
        atoms.positions *= scale
        pairs = atoms.get_all_distances()[np.triu_indices(len(atoms), 1)]
        assert (pairs.max() < 3.0) == (scale == 1.0)  # cutoff 4, tail 1: [3, 4) tapered
        assert (pairs < 4.0).any()
        energies.append([])
        for calc in (cosine, taper):
            atoms.calc = calc
            energies[-1].append(atoms.get_potential_energy())
    assert energies[0][1] == pytest.approx(energies[0][0], rel=1e-12, abs=1e-12)
    assert energies[1][1] != pytest.approx(energies[1][0], rel=1e-6)
    with pytest.raises(ValueError, match="envelope"):
        RegconvCalculator(str(energy_checkpoint), model_options={"envelope": {"kind": "poly"}})
