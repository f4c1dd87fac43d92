"""``regconv md-check nve|stability`` end to end on the test checkpoint: records, traces, the
plot, a resumed stability run, a state of other settings refused, usage errors exit 2, bad input
exits 1 naming the problem."""

from __future__ import annotations

import json

import numpy as np
from ase.io import write

from ase import Atoms
from regconv.cli.main import main
from regconv.cli.md_check import run_md_check
from tests.md.springs import BreaksAfter

POS = [[0.0, 0, 0], [1.45, 0.1, 0], [0.7, 1.3, 0.05], [0.75, 0.4, 1.25]]


def test_nve_and_stability_write_their_records(energy_checkpoint, tmp_path, capsys):
    mol = tmp_path / "mol.xyz"
    write(mol, Atoms("C4", positions=POS))
    out = tmp_path / "checks"
    common = ["--ckpt", str(energy_checkpoint), "--input", str(mol), "--ps", "0.01",
              "--every", "2", "--out", str(out)]  # fmt: skip
    nve = ["md-check", "nve", *common, "--temperatures", "100", "300", "--dtype", "float64"]
    assert main(nve) == 0
    assert main(["md-check", "stability", *common, "--runs", "2", "--temperature", "300"]) == 0
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    runs = [r for r in lines if r["check"] == "nve"]
    assert [r["start_temperature_K"] for r in runs] == [100.0, 300.0]
    assert all(r["steps"] == 20 and np.isfinite(r["drift_meV_per_atom_ps"]) for r in runs)
    assert all(r["max_excursion_meV_per_atom"] < 0.1 for r in runs)  # float64, 10 fs
    assert all(r["nonfinite_at_step"] is None and "cpu" in r["machine"] for r in runs)
    trace = np.loadtxt(out / "nve-300K.csv", delimiter=",", skiprows=1)
    assert trace.shape == (11, 4)  # steps 0, 2, ..., 20
    assert (out / "nve.png").stat().st_size > 1000
    stab = [r for r in lines if r["check"] == "stability"]
    assert [(r["seed"], r["physical"], r["reason"]) for r in stab] == [
        (0, True, None),
        (1, True, None),
    ]
    summary = [r for r in lines if r["check"] == "stability_summary"]
    assert summary[0]["runs"] == 2 and summary[0]["physical_fraction"] == 1.0
    assert "torch" in summary[0]["machine"] and all("machine" not in r for r in stab)
    saved = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert saved == lines  # the file holds what was printed, the machine's facts included
    assert len((out / "results.jsonl").read_text().splitlines()) == 2 + 2 + 1
    assert "step 20/20" in captured.err and (out / "stability-state.npz").exists()
    # a rerun resumes the finished state; other settings in the same folder are refused
    assert main(["md-check", "stability", *common, "--runs", "2", "--temperature", "300"]) == 0
    assert "resuming at step 20 of 20" in capsys.readouterr().err
    assert main(["md-check", "stability", *common, "--runs", "3", "--temperature", "300"]) == 1
    assert "other settings" in capsys.readouterr().err


def test_usage_errors_exit_2_and_bad_input_exits_1(energy_checkpoint, tmp_path, capsys):
    mol = tmp_path / "mol.xyz"
    write(mol, Atoms("C4", positions=POS))
    base = ["--ckpt", str(energy_checkpoint), "--input", str(mol), "--out", str(tmp_path / "o")]
    assert main(["md-check", "nve", *base, "--ps", "0"]) == 2
    assert main(["md-check", "stability", *base, "--ps", "0.01", "--runs", "0"]) == 2
    assert main(["md-check", "drift", *base, "--ps", "0.01"]) == 2
    capsys.readouterr()
    assert main(["md-check", "nve", *base, "--ps", "0.01", "--threads", "0"]) == 2
    assert "--threads must be an integer >= 1, got 0" in capsys.readouterr().err
    assert main(["md-check", "stability", *base, "--ps", "0.01", "--escape", "0.5"]) == 1
    assert "start geometry is not physical" in capsys.readouterr().err
    missing = ["--ckpt", str(tmp_path / "no.ckpt"), "--input", str(mol), "--ps", "0.01"]
    assert main(["md-check", "nve", *missing, "--out", str(tmp_path / "o")]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    bad = tmp_path / "bad.xyz"
    bad.write_text("2\n\nC 0 0 0\nU 1.5 0 0\n")
    assert main(["md-check", "nve", "--ckpt", str(energy_checkpoint), "--input", str(bad),
                 "--ps", "0.01", "--out", str(tmp_path / "o")]) == 1  # fmt: skip
    assert "unknown element" in capsys.readouterr().err
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_a_run_that_blows_up_is_reported_beside_the_healthy_ones(tmp_path, capsys):
    mol = tmp_path / "mol.xyz"
    write(mol, Atoms("C4", positions=POS))
    argv = ["nve", "--ckpt", "springs", "--input", str(mol), "--ps", "0.01", "--dt", "0.25",
            "--every", "8", "--temperatures", "100", "300", "500", "--out",
            str(tmp_path / "o")]  # fmt: skip
    assert run_md_check(argv, load_forces=lambda path, device, dtype: BreaksAfter(17)) == 0
    runs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["start_temperature_K"], r["steps"], r["nonfinite_at_step"]) for r in runs] == [
        (100.0, 40, None),
        (300.0, 40, 17),
        (500.0, 40, None),
    ]
    assert all(np.isfinite(r["drift_meV_per_atom_ps"]) for r in runs)
    trace = np.loadtxt(tmp_path / "o" / "nve-300K.csv", delimiter=",", skiprows=1)
    assert trace.shape == (3, 4) and np.isfinite(trace).all()  # steps 0, 8, 16
