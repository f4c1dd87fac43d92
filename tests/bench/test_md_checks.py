"""regconv.bench.md_checks: NVE drift and Langevin stability runs with a trained model (tiny
runs of the test checkpoint), and the pieces they are computed from."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.io import write

from ase import Atoms
from regconv.bench.md_checks import bonds_of, energy_drift, main, physical

POS = [[0.0, 0, 0], [1.45, 0.1, 0], [0.7, 1.3, 0.05], [0.75, 0.4, 1.25]]


def test_drift_is_the_slope_per_atom_and_the_excursion_the_largest_deviation():
    t = np.linspace(0.0, 2.0, 21)  # ps
    e = -10.0 + 0.004 * t  # eV: 4 meV/ps on 2 atoms
    e[10] += 0.01  # a spike in the middle (t = 1 ps) leaves the slope as it is
    d = energy_drift(t, e, 2)
    assert d["drift_meV_per_atom_ps"] == pytest.approx(2.0, abs=1e-9)
    assert d["max_excursion_meV_per_atom"] == pytest.approx((4.0 + 10.0) / 2, abs=1e-9)


def test_bonds_and_the_physical_test():
    water = np.array([[0.0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    bonds = bonds_of(np.array([8, 1, 1]), water)
    assert sorted(map(tuple, bonds[:, :2].astype(int))) == [(0, 1), (0, 2)]
    masses = np.array([16.0, 1.0, 1.0])
    assert physical(water, masses, bonds, escape=10.0)
    stretched = water.copy()
    stretched[1, 0] = 2.0  # O-H at 2.0 Å > 2 x 0.96
    assert not physical(stretched, masses, bonds, escape=10.0)
    assert not physical(water, masses, bonds, escape=0.5)  # H atoms ~0.9 Å from the centre


def test_nve_and_stability_runs_write_their_records(energy_checkpoint, tmp_path, capsys):
    mol = tmp_path / "mol.xyz"
    write(mol, Atoms("C4", positions=POS))
    out = tmp_path / "checks"
    common = ["--ckpt", str(energy_checkpoint), "--input", str(mol), "--ps", "0.01",
              "--every", "2", "--out", str(out)]  # fmt: skip
    assert main(["nve", *common, "--temperatures", "100", "300", "--dtype", "float64"]) == 0
    assert main(["stability", *common, "--runs", "2", "--temperature", "300"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    nve = [r for r in lines if r["check"] == "nve"]
    assert [r["start_temperature_K"] for r in nve] == [100.0, 300.0]
    assert all(r["steps"] == 20 and np.isfinite(r["drift_meV_per_atom_ps"]) for r in nve)
    trace = np.loadtxt(out / "nve-300K.csv", delimiter=",", skiprows=1)
    assert trace.shape == (11, 4)  # steps 0, 2, ..., 20
    assert (out / "nve.png").stat().st_size > 1000
    summary = [r for r in lines if r["check"] == "stability_summary"]
    assert summary[0]["runs"] == 2 and 0.0 <= summary[0]["physical_fraction"] <= 1.0
    assert len((out / "results.jsonl").read_text().splitlines()) == 2 + 2 + 1


def test_bad_arguments_exit_2(energy_checkpoint, tmp_path):
    assert main(["nve", "--ckpt", str(energy_checkpoint), "--input", "x.xyz", "--ps", "0"]) == 2


def test_an_interrupted_stability_run_resumes_on_the_same_trajectory(
    energy_checkpoint, tmp_path, capsys, monkeypatch
):
    from regconv.bench.md_replicas import ReplicaLangevin

    mol = tmp_path / "mol.xyz"
    write(mol, Atoms("C4", positions=POS))
    common = ["stability", "--ckpt", str(energy_checkpoint), "--input", str(mol), "--runs", "2",
              "--ps", "0.01", "--every", "2", "--save-every", "4"]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    straight = np.load(tmp_path / "a" / "stability-state.npz")["pos"]

    step, calls = ReplicaLangevin.step, []

    def killed_after_five(self, n=1):
        calls.append(n)
        if len(calls) > 5:  # after step 10; the last save was at step 8
            raise KeyboardInterrupt
        step(self, n)

    monkeypatch.setattr(ReplicaLangevin, "step", killed_after_five)
    with pytest.raises(KeyboardInterrupt):
        main([*common, "--out", str(tmp_path / "b")])
    monkeypatch.setattr(ReplicaLangevin, "step", step)
    assert main([*common, "--out", str(tmp_path / "b")]) == 0
    assert "resuming at step 8 of 20" in capsys.readouterr().err
    np.testing.assert_allclose(
        np.load(tmp_path / "b" / "stability-state.npz")["pos"], straight, rtol=0, atol=1e-12
    )
    other = [*common[:8], "0.02", *common[9:], "--out", str(tmp_path / "b")]
    assert main(other) == 1  # another run length: refused, not mixed in
    assert "other settings" in capsys.readouterr().err


def test_a_run_whose_replicas_all_left_keeps_when_they_left_on_a_rerun(
    energy_checkpoint, tmp_path, capsys
):
    mol = tmp_path / "mol.xyz"
    write(mol, Atoms("C4", positions=POS))
    argv = ["stability", "--ckpt", str(energy_checkpoint), "--input", str(mol), "--runs", "2",
            "--ps", "0.01", "--every", "2", "--escape", "0.5",
            "--out", str(tmp_path / "s")]  # fmt: skip
    for _ in range(2):  # the second run resumes from the saved state and trains nothing
        assert main(argv) == 0
        recs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
        runs = [r for r in recs if r["check"] == "stability"]
        assert [(r["physical"], r["left_at_ps"]) for r in runs] == [(False, 0.001)] * 2
