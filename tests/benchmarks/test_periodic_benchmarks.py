"""The periodic benchmarks, small: pes-budget with stress on a periodic file (regconv and MACE's
files, command line and stress errors), npt-lattice and md-speed on a copper box."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read, write
from benchmarks.md_speed import main as md_speed_main
from benchmarks.npt_lattice import main as npt_main
from benchmarks.pes_budget.cli import main as pes_main
from benchmarks.pes_budget.mace import (
    STRESS_KEY,
    _errors,
    mace_stress_weight,
    mace_train_argv,
    write_extxyz,
)
from regconv.data.crystals import copper_cell


def labelled_copper(count: int, seed: int = 0) -> list:
    """Rattled, strained 32-atom copper cells labelled by EMT (eV, eV/Å, eV/Å³)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        atoms = copper_cell()
        atoms.set_cell(atoms.cell.array * (1 + rng.uniform(-0.02, 0.02)), scale_atoms=True)
        atoms.rattle(0.05, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
                   "stress": atoms.get_stress()}  # fmt: skip
        atoms.calc = SinglePointCalculator(atoms, **results)
        out.append(atoms)
    return out


@pytest.fixture(scope="module")
def copper_file(tmp_path_factory):
    # the random split needs more than 1,000 frames: 20 labelled cells, repeated
    path = tmp_path_factory.mktemp("cu") / "cu.xyz"
    frames = labelled_copper(20)
    write(path, [frames[k % 20] for k in range(1030)], format="extxyz")
    return path


def test_pes_budget_trains_on_stress_and_reports_it(copper_file, tmp_path):
    out = tmp_path / "pes"
    argv = ["--path", str(copper_file), "--stress", "--minutes", "0.02", "--test-size", "10",
            "--jobs", "1", "--models", "r3:hidden=8,layers=1,basis.dim=8", "--out", str(out)]  # fmt: skip
    assert pes_main(argv) == 0
    rec = json.loads((out / "results.json").read_text())["models"][0]
    assert rec["settings"]["stress"] is True and rec["settings"]["stress_weight"] == 10.0
    assert rec["stress_unit"] == "meV/Å^3" and np.isfinite(rec["test_mae_stress"])
    assert rec["max_z"] == 29 and "max_z" not in rec["options"]  # the data's elements
    assert "stress MAE" in (out / "table.md").read_text()
    assert pes_main(argv) == 0  # resumes
    with pytest.raises(SystemExit) as info:  # a usage error: molecules have no stress
        pes_main(["--molecule", "aspirin", "--stress", "--minutes", "1", "--out",
                  str(tmp_path / "x")])  # fmt: skip
    assert info.value.code == 2


def test_mace_gets_the_cells_and_the_stress_and_its_stress_errors(copper_file, tmp_path,
                                                                  monkeypatch):  # fmt: skip
    from regconv.data.md17 import MD17

    test = MD17(str(copper_file), None, "test", "random", 0)
    assert write_extxyz(test, tmp_path / "test.xyz") == 30
    frames = read(tmp_path / "test.xyz", ":")
    assert frames[0].pbc.all() and np.allclose(frames[0].cell.array, test[0].cell[0].numpy(),
                                               atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(np.asarray(frames[0].info[STRESS_KEY]).reshape(3, 3),
                               test[0].stress[0].double().numpy() / 1000, atol=1e-9)  # fmt: skip
    for a in frames:  # a prediction off by 1 meV/Å^3 in every stress component
        a.info["MACE_energy"] = a.info["REF_energy"]
        a.arrays["MACE_forces"] = a.arrays["REF_forces"]
        a.info["MACE_stress"] = np.asarray(a.info[STRESS_KEY]).reshape(3, 3) + 0.001
    write(tmp_path / "pred.xyz", frames, format="extxyz")
    err = _errors(tmp_path / "pred.xyz", tmp_path / "test.xyz", stress=True)
    assert err["test_mae_stress"] == pytest.approx(1.0, abs=1e-6)
    monkeypatch.setattr("benchmarks.pes_budget.mace.mace_tool", lambda name: f"/bin/{name}")
    args = argparse.Namespace(seed=0, batch_size=5, stress=True, force_weight=100.0)
    with pytest.raises(ValueError, match="stress weight"):
        mace_train_argv({"hidden_irreps": "16x0e", "r_max": 5.0}, args, tmp_path, tmp_path, 1)
    # regconv's weight on the per-atom virial, in MACE's units of the stress: w (V/n)^2
    w = mace_stress_weight(test, 10.0)
    v_per_atom = abs(np.linalg.det(frames[0].cell.array)) / len(frames[0])
    assert 11.0 < v_per_atom < 13.5 and w == pytest.approx(10.0 * v_per_atom**2, rel=0.1)
    argv = mace_train_argv({"hidden_irreps": "16x0e", "r_max": 5.0}, args, tmp_path, tmp_path, 1,
                           w)  # fmt: skip
    assert argv[argv.index("--loss") + 1] == "stress"
    assert argv[argv.index("--stress_key") + 1] == STRESS_KEY
    assert float(argv[argv.index("--stress_weight") + 1]) == pytest.approx(w, rel=1e-5)
    assert argv[argv.index("--forces_weight") + 1] == "100"
    with pytest.raises(ValueError, match="periodic"):
        mace_stress_weight([], 10.0)


def test_npt_lattice_runs_the_reference_and_a_model(copper_checkpoint, tmp_path, capsys):
    out = tmp_path / "npt.jsonl"
    assert npt_main(["--ckpt", str(copper_checkpoint), "--ps", "0.04", "--repeat", "2",
                     "--temperatures", "300", "600", "--out", str(out)]) == 0  # fmt: skip
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["potential"] for x in lines].count("EMT (reference)") == 3
    for x in lines:
        if "a_A" in x:
            assert 3.3 < x["a_A"] < 3.9 and x["steps"] == 20 and x["atoms"] == 32
        else:
            assert np.isfinite(x["alpha_per_K"]) and x["between_K"] == [300.0, 600.0]


def test_md_speed_times_a_copper_box(capsys):
    argv = ["--crystal", "copper", "--repeat", "1", "--models", "schnet:hidden=8,layers=1",
            "--steps", "2", "--warmup", "1", "--threads", "1"]  # fmt: skip
    assert md_speed_main(argv) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rec["crystal"] == "copper" and rec["atoms"] == 4 and rec["steps_per_s"] > 0
