"""regconv.bench.md_replicas: BAOAB replicas against ASE's velocity Verlet, the thermostat's
temperature, independence of replicas, resuming, and the batched force functions against the
ASE calculators they stand in for."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from ase.md.verlet import VelocityVerlet

from ase import Atoms, units
from regconv.bench.md_replicas import ReplicaLangevin
from regconv.bench.replica_forces import RegconvForces

POS = np.array([[0.0, 0, 0], [1.45, 0.1, 0], [0.7, 1.3, 0.05], [0.75, 0.4, 1.25]])
MASSES = np.array([12.0, 1.0, 16.0, 14.0])


def springs(pos: np.ndarray) -> np.ndarray:
    """Forces ``[R, N, 3]`` of unit springs (1 eV/Å^2) between all pairs, rest length 1.3 Å."""
    d = pos[:, :, None] - pos[:, None]  # [R, N, N, 3]
    r = np.linalg.norm(d, axis=-1) + np.eye(pos.shape[1])  # no 0/0 on the diagonal
    mag = -(r - 1.3) * (1 - np.eye(pos.shape[1]))  # [R, N, N]
    return (mag[..., None] * d / r[..., None]).sum(axis=2)


class Springs(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        p = self.atoms.positions
        r = np.linalg.norm(p[:, None] - p[None], axis=-1)[np.triu_indices(len(p), 1)]
        self.results = {"energy": 0.5 * ((r - 1.3) ** 2).sum(), "forces": springs(p[None])[0]}


def start(replicas: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pos = POS[None] + 0.1 * rng.standard_normal((replicas, *POS.shape))
    vel = 0.02 * rng.standard_normal((replicas, *POS.shape))
    return pos, vel


def dynamics(pos, vel, seeds, friction=0.02, temperature=300.0, dt=0.5):
    return ReplicaLangevin(springs, pos, vel, MASSES, dt_fs=dt, temperature_K=temperature,
                           friction_per_fs=friction, seeds=seeds)  # fmt: skip


def test_without_friction_it_is_ases_velocity_verlet():
    pos, vel = start(2)
    dyn = dynamics(pos, vel, [0, 1], friction=0.0)
    dyn.step(50)
    for r in range(2):
        atoms = Atoms(numbers=[6, 1, 8, 7], positions=pos[r], masses=MASSES)
        atoms.set_velocities(vel[r])
        atoms.calc = Springs()
        VelocityVerlet(atoms, 0.5 * units.fs).run(50)
        np.testing.assert_allclose(dyn.pos[r], atoms.positions, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dyn.vel[r], atoms.get_velocities(), rtol=0, atol=1e-12)


def test_the_thermostat_holds_the_bath_temperature():
    pos, vel = start(48)
    dyn = dynamics(pos, vel, list(range(48)), friction=0.05, temperature=300.0, dt=1.0)
    dyn.step(400)  # 20 relaxation times
    temps = []
    for _ in range(60):
        dyn.step(10)
        temps.append(dyn.temperatures().mean())
    # 48 replicas x 60 samples of a 12-degree-of-freedom system: the mean is within a few %
    assert np.mean(temps) == pytest.approx(300.0, rel=0.06)


def test_a_replica_does_not_depend_on_the_others_and_a_finished_one_stops():
    pos, vel = start(3)
    both = dynamics(pos, vel, [5, 6, 7])
    alone = dynamics(pos[1:2], vel[1:2], [6])
    both.step(10)
    both.finish(0)
    frozen = both.pos[0].copy()
    both.step(20)
    alone.step(30)
    np.testing.assert_allclose(both.pos[1], alone.pos[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(both.pos[0], frozen)
    assert both.nsteps == 30 and list(both.active) == [False, True, True]


def test_the_friction_sets_the_velocity_memory():
    # no forces and a bath at 0 K: the O step alone damps v by exp(-gamma t), gamma in 1/fs
    pos, vel = start(2)
    dyn = ReplicaLangevin(lambda x: np.zeros_like(x), pos, vel, MASSES, dt_fs=1.0,
                          temperature_K=0.0, friction_per_fs=0.01, seeds=[0, 1])  # fmt: skip
    dyn.step(100)  # 100 fs
    np.testing.assert_allclose(dyn.vel, np.exp(-1.0) * vel, rtol=1e-12)


def test_a_replica_whose_forces_break_is_finished_and_the_others_go_on():
    def breaking(x):
        f = springs(x)
        f[np.linalg.norm(x[:, 0], axis=-1) > 1e3] = np.nan  # replica 0 is sent far away below
        return f

    pos, vel = start(3)
    pos[0, 0] += 2e3
    dyn = ReplicaLangevin(breaking, pos, vel, MASSES, dt_fs=0.5, temperature_K=300.0,
                          friction_per_fs=0.01, seeds=[0, 1, 2])  # fmt: skip
    assert dyn.nonfinite == {} and np.isnan(dyn.forces[0]).all()  # the first call is the start
    dyn.step(5)
    assert dyn.nonfinite == {0: 1} and list(dyn.active) == [False, True, True]
    assert dyn.nsteps == 5 and np.isfinite(dyn.pos[1:]).all()


def test_a_resumed_run_continues_on_the_same_trajectory():
    pos, vel = start(2)
    straight = dynamics(pos, vel, [1, 2])
    straight.step(40)
    first = dynamics(pos, vel, [1, 2])
    first.step(15)
    first.finish(1)
    state = first.state_dict()
    resumed = dynamics(pos, vel, [1, 2])
    resumed.load_state_dict(state)
    resumed.step(25)
    first.step(25)
    np.testing.assert_array_equal(resumed.pos, first.pos)
    np.testing.assert_array_equal(resumed.vel, first.vel)
    assert resumed.nsteps == 40 and not resumed.active[1]
    np.testing.assert_array_equal(resumed.pos[0], straight.pos[0])


def test_bad_input_is_refused():
    pos, vel = start(2)
    with pytest.raises(ValueError, match="one seed per replica"):
        dynamics(pos, vel, [0])
    with pytest.raises(ValueError, match="masses"):
        ReplicaLangevin(springs, pos, vel, MASSES[:3], dt_fs=0.5, temperature_K=300,
                        friction_per_fs=0.01, seeds=[0, 1])  # fmt: skip
    bad = pos.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dynamics(bad, vel, [0, 1])
    with pytest.raises(ValueError, match="do not fit"):
        dynamics(pos, vel, [0, 1]).load_state_dict(dynamics(pos[:1], vel[:1], [0]).state_dict())
    with pytest.raises(ValueError, match="integer >= 0"):
        dynamics(pos, vel, [0, 1]).step(-1)


def test_regconv_forces_are_the_calculators_forces_per_replica(energy_checkpoint):
    from regconv.ase import RegconvCalculator

    pos, _ = start(3)
    numbers = [6, 6, 6, 6]
    forces = RegconvForces(str(energy_checkpoint), numbers, dtype="float64")
    batched = forces(pos)
    assert np.abs(batched).max() > 1e-6
    np.testing.assert_allclose(forces(pos[1:2])[0], batched[1], rtol=0, atol=1e-12)  # alone
    calc = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    for r in range(3):
        atoms = Atoms(numbers=numbers, positions=pos[r])
        atoms.calc = calc
        np.testing.assert_allclose(batched[r], atoms.get_forces(), rtol=0, atol=1e-10)


def test_mace_forces_are_maces_calculator_forces_per_replica():
    import torch
    from mace import modules
    from mace.calculators import MACECalculator

    from regconv.bench.replica_forces import MaceForces

    # after mace, which allows the pickled globals e3nn 0.4.4 loads under torch 2.13
    o3 = __import__("e3nn.o3", fromlist=["Irreps"])

    torch.manual_seed(0)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.MACE(
        r_max=4.0, num_bessel=4, num_polynomial_cutoff=5, max_ell=1, interaction_cls=block,
        interaction_cls_first=block, num_interactions=1, num_elements=2,
        hidden_irreps=o3.Irreps("8x0e+8x1o"), MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=np.zeros(2), avg_num_neighbors=3.0, atomic_numbers=[1, 6],
        correlation=2, gate=torch.nn.functional.silu,
    ).double()  # fmt: skip
    pos, _ = start(3)
    numbers = [6, 1, 1, 6]
    batched = MaceForces(model, numbers, dtype="float64")(pos)
    calc = MACECalculator(models=model, device="cpu", default_dtype="float64")
    assert np.abs(batched).max() > 1e-6
    for r in range(3):
        atoms = Atoms(numbers=numbers, positions=pos[r])
        atoms.calc = calc
        np.testing.assert_allclose(batched[r], atoms.get_forces(), rtol=0, atol=1e-10)
