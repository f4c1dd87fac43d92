"""regconv.md.replicas and regconv.md.forces: BAOAB replicas against ASE's velocity Verlet, the
thermostat's temperature, independence of replicas (of one molecule and of several), one
force-field call per step, resuming, bad input, and the force fields against the ASE calculators
they stand in for (forces are minus the gradient of the energy)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.md.verlet import VelocityVerlet

from ase import Atoms, units
from regconv.md import CalculatorForces, RegconvForces, ReplicaLangevin
from tests.md.springs import (
    MASSES,
    NUMBERS,
    NUMBERS3,
    POS,
    POS3,
    BreaksAfter,
    Springs,
    springs,
)


def start(replicas: int, seed: int = 0, pos=POS) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pos[None] + 0.1 * rng.standard_normal((replicas, *pos.shape))
    v = 0.02 * rng.standard_normal((replicas, *pos.shape))
    return x, v


def dynamics(pos, vel, seeds, friction=0.02, temperature=300.0, dt=0.5, forces=springs):
    return ReplicaLangevin(forces, [NUMBERS] * len(pos), pos, vel, masses=[MASSES] * len(pos),
                           dt_fs=dt, temperature_K=temperature, friction_per_fs=friction,
                           seeds=seeds)  # fmt: skip


def test_without_friction_it_is_ases_velocity_verlet():
    pos, vel = start(2)
    dyn = dynamics(pos, vel, [0, 1], friction=0.0)
    dyn.step(50)
    for r in range(2):
        atoms = Atoms(numbers=NUMBERS, positions=pos[r], masses=MASSES)
        atoms.set_velocities(vel[r])
        atoms.calc = Springs()
        VelocityVerlet(atoms, 0.5 * units.fs).run(50)
        np.testing.assert_allclose(dyn.positions(r), atoms.positions, rtol=0, atol=1e-12)
        np.testing.assert_allclose(dyn.velocities(r), atoms.get_velocities(), rtol=0, atol=1e-12)
        assert dyn.energies[r] == pytest.approx(atoms.get_potential_energy(), abs=1e-12)


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
    frozen = both.positions(0).copy()
    both.step(20)
    alone.step(30)
    np.testing.assert_allclose(both.positions(1), alone.positions(0), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(both.positions(0), frozen)
    assert both.nsteps == 30 and list(both.active) == [False, True, True]


def test_two_molecules_in_one_call_follow_their_separate_runs():
    (p4, v4), (p3, v3) = start(2, seed=1), start(1, seed=2, pos=POS3)
    calls = []

    def counted(numbers, positions):
        calls.append([len(z) for z in numbers])
        return springs(numbers, positions)

    settings = {"dt_fs": 0.5, "temperature_K": 300.0, "friction_per_fs": 0.02}
    mixed = ReplicaLangevin(counted, [NUMBERS, NUMBERS3, NUMBERS], [p4[0], p3[0], p4[1]],
                            [v4[0], v3[0], v4[1]], seeds=[7, 8, 9], **settings)  # fmt: skip
    mixed.step(25)
    assert len(calls) == 26 and calls[-1] == [4, 3, 4]  # the start, then one call per step
    for r, (z, x, v, seed) in enumerate(
        [(NUMBERS, p4[0], v4[0], 7), (NUMBERS3, p3[0], v3[0], 8), (NUMBERS, p4[1], v4[1], 9)]
    ):
        alone = ReplicaLangevin(springs, [z], [x], [v], seeds=[seed], **settings)
        alone.step(25)
        np.testing.assert_allclose(mixed.positions(r), alone.positions(0), rtol=0, atol=1e-12)
        np.testing.assert_allclose(mixed.velocities(r), alone.velocities(0), rtol=0, atol=1e-12)
        assert mixed.energies[r] == pytest.approx(alone.energies[0], abs=1e-12)
    assert mixed.temperatures().shape == (3,) and mixed.kinetic_energies().min() > 0


def test_two_molecules_of_a_regconv_model_in_one_batch_follow_their_separate_runs(
    energy_checkpoint,
):
    forces = RegconvForces.from_checkpoint(energy_checkpoint, dtype="float64")
    (p4, v4), (p3, v3) = start(1, seed=1), start(1, seed=2, pos=POS3)
    settings = {"dt_fs": 0.5, "temperature_K": 300.0, "friction_per_fs": 0.02}
    carbon4, carbon3 = np.full(4, 6), np.full(3, 6)
    mixed = ReplicaLangevin(forces, [carbon4, carbon3], [p4[0], p3[0]], [v4[0], v3[0]],
                            seeds=[3, 4], **settings)  # fmt: skip
    mixed.step(10)
    for r, (z, x, v) in enumerate([(carbon4, p4[0], v4[0]), (carbon3, p3[0], v3[0])]):
        alone = ReplicaLangevin(forces, [z], [x], [v], seeds=[3 + r], **settings)
        alone.step(10)
        np.testing.assert_allclose(mixed.positions(r), alone.positions(0), rtol=0, atol=1e-10)
    assert np.abs(mixed.forces).max() > 1e-6  # the model moved them


def test_periodic_replicas_of_a_regconv_model_match_its_calculator(copper_checkpoint):
    from regconv.ase import RegconvCalculator
    from regconv.data.crystals import copper_cell

    calc = RegconvCalculator(str(copper_checkpoint), dtype="float64")
    forces = RegconvForces(calc)
    replicas = []
    for k, scale in enumerate((1.0, 1.03)):
        atoms = copper_cell()
        atoms.set_cell(atoms.cell.array * scale, scale_atoms=True)
        atoms.rattle(0.05, seed=k)
        atoms.set_velocities(np.zeros((len(atoms), 3)))
        replicas.append(atoms)
    settings = {"dt_fs": 2.0, "temperature_K": 300.0, "friction_per_fs": 0.02}
    run = ReplicaLangevin.from_atoms(forces, replicas, seeds=[1, 2], **settings)
    run.step(5)
    for r, atoms in enumerate(replicas):  # the batch's forces are the calculator's, per cell
        moved = atoms.copy()
        moved.positions = run.positions(r)  # atoms that left the cell keep their images
        moved.calc = calc
        np.testing.assert_allclose(run.forces[run.offsets[r] : run.offsets[r + 1]],
                                   moved.get_forces(), atol=1e-10)  # fmt: skip
    # and a molecule's replicas take no cells
    assert run.cells is not None and ReplicaLangevin(
        springs, [NUMBERS], POS[None], np.zeros_like(POS[None]), masses=[MASSES], seeds=[0],
        **settings
    ).cells is None  # fmt: skip


def test_the_friction_sets_the_velocity_memory():
    # no forces and a bath at 0 K: the O step alone damps v by exp(-gamma t), gamma in 1/fs
    pos, vel = start(2)

    def zero(numbers, positions):
        return np.zeros(len(positions)), np.zeros((sum(map(len, positions)), 3))

    dyn = dynamics(pos, vel, [0, 1], friction=0.01, temperature=0.0, dt=1.0, forces=zero)
    dyn.step(100)  # 100 fs
    np.testing.assert_allclose(dyn.vel, np.exp(-1.0) * vel.reshape(-1, 3), rtol=1e-12)


def test_a_replica_whose_forces_break_is_finished_and_the_others_go_on():
    def breaking(numbers, positions):
        e, f = springs(numbers, positions)
        far = [np.linalg.norm(p[0]) > 1e3 for p in positions]  # replica 0 is sent far below
        f = f.reshape(len(positions), -1, 3)
        f[far] = np.nan
        return e, f  # [R', N, 3]: accepted for molecules of one size

    pos, vel = start(3)
    pos[0, 0] += 2e3
    dyn = dynamics(pos, vel, [0, 1, 2], forces=breaking)
    assert dyn.nonfinite == {} and np.isnan(dyn.positions(0)).sum() == 0
    dyn.step(5)
    assert dyn.nonfinite == {0: 1} and list(dyn.active) == [False, True, True]
    assert dyn.nsteps == 5 and np.isfinite(dyn.pos[4:]).all()


def test_a_call_that_finishes_every_replica_counts_only_the_steps_done():
    pos, vel = start(2)
    dyn = dynamics(pos, vel, [0, 1], forces=BreaksAfter(4, index=slice(None), batch=2))
    dyn.step(3)
    dyn.step(10)  # both break at step 4: one step of this call is done
    assert dyn.nonfinite == {0: 4, 1: 4} and not dyn.active.any()
    assert dyn.nsteps == 4
    dyn.step(5)  # nothing left to run
    assert dyn.nsteps == 4


def test_zero_temperature_and_friction_are_accepted_and_negatives_name_the_argument():
    pos, vel = start(1)
    assert dynamics(pos, vel, [0], friction=0, temperature=0).c1 == 1.0
    with pytest.raises(ValueError, match="friction_per_fs must be a finite number >= 0"):
        dynamics(pos, vel, [0], friction=-0.01)
    with pytest.raises(ValueError, match="temperature_K must be a finite number >= 0"):
        dynamics(pos, vel, [0], temperature=True)


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
    np.testing.assert_array_equal(resumed.positions(0), straight.positions(0))
    # states of the earlier layout, [R, N, 3], read the same
    old = {**state, "pos": state["pos"].reshape(2, 4, 3), "vel": state["vel"].reshape(2, 4, 3)}
    del old["energies"]
    again = dynamics(pos, vel, [1, 2])
    again.load_state_dict(old)
    np.testing.assert_array_equal(again.pos, state["pos"])


def test_bad_input_is_refused():
    pos, vel = start(2)
    with pytest.raises(ValueError, match="one seed per replica"):
        dynamics(pos, vel, [0])
    with pytest.raises(ValueError, match="masses"):
        ReplicaLangevin(springs, [NUMBERS] * 2, pos, vel, masses=[MASSES[:3]] * 2, dt_fs=0.5,
                        temperature_K=300, friction_per_fs=0.01, seeds=[0, 1])  # fmt: skip
    bad = pos.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dynamics(bad, vel, [0, 1])
    with pytest.raises(ValueError, match="does not fit"):
        dynamics(pos, vel, [0, 1]).load_state_dict(dynamics(pos[:1], vel[:1], [0]).state_dict())
    with pytest.raises(ValueError, match="integer >= 0"):
        dynamics(pos, vel, [0, 1]).step(-1)
    with pytest.raises(ValueError, match="dt_fs"):
        dynamics(pos, vel, [0, 1], dt=0.0)
    with pytest.raises(ValueError, match="temperature_K"):
        dynamics(pos, vel, [0, 1], temperature=-1.0)
    with pytest.raises(ValueError, match="friction_per_fs"):
        dynamics(pos, vel, [0, 1], friction=float("nan"))
    with pytest.raises(ValueError, match="numbers: 1 entries for 2 replicas"):
        ReplicaLangevin(springs, [NUMBERS], pos, vel, dt_fs=0.5, temperature_K=300,
                        friction_per_fs=0.01, seeds=[0, 1])  # fmt: skip
    with pytest.raises(ValueError, match=r"replica 1: positions and velocities must be \[3, 3\]"):
        ReplicaLangevin(springs, [NUMBERS, NUMBERS3], pos, vel, dt_fs=0.5, temperature_K=300,
                        friction_per_fs=0.01, seeds=[0, 1])  # fmt: skip
    with pytest.raises(ValueError, match="atomic numbers"):
        ReplicaLangevin(springs, [[0, 1, 1, 1]], pos[:1], vel[:1], dt_fs=0.5, temperature_K=300,
                        friction_per_fs=0.01, seeds=[0])  # fmt: skip
    with pytest.raises(ValueError, match="the force field returned"):
        dynamics(pos, vel, [0, 1], forces=lambda z, x: (np.zeros(1), np.zeros((8, 3))))


def test_regconv_forces_are_the_calculators_forces_per_replica(energy_checkpoint):
    from regconv.ase import RegconvCalculator

    pos, _ = start(3)
    numbers = [np.full(4, 6)] * 3
    forces = RegconvForces.from_checkpoint(energy_checkpoint, dtype="float64")
    energies, batched = forces(numbers, list(pos))
    batched = batched.reshape(3, 4, 3)
    assert energies.shape == (3,) and np.abs(batched).max() > 1e-6
    alone = forces(numbers[:1], [pos[1]])
    np.testing.assert_allclose(alone[1], batched[1], rtol=0, atol=1e-12)
    calc = RegconvCalculator(str(energy_checkpoint), dtype="float64")
    for r in range(3):
        atoms = Atoms(numbers=numbers[r], positions=pos[r])
        atoms.calc = calc
        np.testing.assert_allclose(batched[r], atoms.get_forces(), rtol=0, atol=1e-10)
        assert energies[r] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)


def test_the_integrators_forces_are_minus_the_gradient_of_the_energy(energy_checkpoint):
    forces = RegconvForces.from_checkpoint(energy_checkpoint, dtype="float64")
    z, x = np.full(4, 6), start(1, seed=4)[0][0]
    dyn = ReplicaLangevin(forces, [z], [x], [np.zeros_like(x)], dt_fs=0.5, temperature_K=0.0,
                          friction_per_fs=0.0, seeds=[0])  # fmt: skip
    h = 1e-4
    for i, d in ((0, 0), (1, 2), (3, 1)):
        e = []
        for sign in (1, -1):
            moved = x.copy()
            moved[i, d] += sign * h
            e.append(forces([z], [moved])[0][0])
        assert dyn.forces[i, d] == pytest.approx(-(e[0] - e[1]) / (2 * h), rel=1e-6, abs=1e-9)
    assert np.abs(dyn.forces).max() > 1e-4


def test_force_fields_refuse_what_they_cannot_batch(energy_checkpoint):
    from regconv.ase import RegconvCalculator

    with pytest.raises(ValueError, match="test-time rotations"):
        RegconvForces(RegconvCalculator(str(energy_checkpoint), rotations=2))
    with pytest.raises(ValueError, match="RegconvCalculator"):
        RegconvForces(Springs())
    with pytest.raises(ValueError, match="not an ASE calculator"):
        CalculatorForces(springs)


def test_calculator_forces_are_the_calculators_per_molecule():
    (p4, _), (p3, _) = start(1, seed=1), start(1, seed=2, pos=POS3)
    e, f = CalculatorForces(Springs())([NUMBERS, NUMBERS3], [p4[0], p3[0]])
    e_ref, f_ref = springs(None, [p4[0], p3[0]])
    np.testing.assert_allclose(e, e_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(f, f_ref, rtol=0, atol=1e-12)
    assert f.shape == (7, 3)
