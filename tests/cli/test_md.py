"""``regconv md`` and ``regconv relax``: files that ``ase.io.read`` reads back with the frames and
atoms expected, a log, convergence, and every bad input exits 1 naming the problem, writing
nothing."""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read, write

from ase import Atoms
from regconv.cli.main import main

POS = [[0.0, 0, 0], [1.45, 0.1, 0], [0.7, 1.3, 0.05], [0.75, 0.4, 1.25]]


@pytest.fixture()
def molecule_file(tmp_path):
    path = tmp_path / "mol.xyz"
    write(path, Atoms("C4", positions=POS))
    return path


def test_md_writes_a_trajectory_and_a_log(energy_checkpoint, molecule_file, tmp_path, capsys):
    traj, log = tmp_path / "traj.xyz", tmp_path / "md.csv"
    args = ["md", "--ckpt", str(energy_checkpoint), "--input", str(molecule_file),
            "--steps", "20", "--every", "5", "--output", str(traj), "--log", str(log),
            "--temperature", "300"]  # fmt: skip
    assert main(args) == 0
    frames = read(traj, index=":")
    assert len(frames) == 5 and all(len(f) == 4 for f in frames)  # steps 0, 5, 10, 15, 20
    assert frames[-1].info["step"] == 20
    np.testing.assert_allclose(frames[0].positions, POS, atol=1e-6)
    assert frames[1].get_forces().shape == (4, 3) and np.isfinite(frames[1].get_potential_energy())
    rows = log.read_text().splitlines()
    assert rows[0].startswith("step,time_fs,temperature_K") and len(rows) == 6
    assert "step 20/20" in capsys.readouterr().err


def test_nve_md_is_reproducible_for_a_seed(energy_checkpoint, molecule_file, tmp_path):
    outs = []
    for name in ("a.xyz", "b.xyz"):
        args = ["md", "--ckpt", str(energy_checkpoint), "--input", str(molecule_file),
                "--steps", "10", "--thermostat", "none", "--seed", "3",
                "--output", str(tmp_path / name)]  # fmt: skip
        assert main(args) == 0
        outs.append(read(tmp_path / name, index=-1).positions)
    np.testing.assert_array_equal(outs[0], outs[1])


def test_relax_lowers_the_energy_and_converges(energy_checkpoint, molecule_file, tmp_path):
    out = tmp_path / "relaxed.xyz"
    args = ["relax", "--ckpt", str(energy_checkpoint), "--input", str(molecule_file),
            "--fmax", "0.01", "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    relaxed = read(out)
    assert len(relaxed) == 4 and relaxed.info["converged"]
    assert np.abs(relaxed.get_forces()).max() < 0.01


@pytest.mark.parametrize("command", ["md", "relax"])
@pytest.mark.parametrize(
    "content, message",
    [
        ("2\n\nC 0 0 0\nU 1.5 0 0\n", "unknown element"),
        ("2\n\nC 0 0 0\nC nan 0 0\n", "line 4"),
        ("3\n\nC 0 0 0\nC 1.5 0 0\n", "line"),
        ("1\n\nC 0 0 0\n1\n\nC 1 0 0\n", "2 molecules"),
    ],
)
def test_bad_input_exits_1_and_writes_nothing(
    energy_checkpoint, tmp_path, capsys, command, content, message
):
    bad = tmp_path / "bad.xyz"
    bad.write_text(content)
    out = tmp_path / "out.xyz"
    args = [command, "--ckpt", str(energy_checkpoint), "--input", str(bad), "--output", str(out)]
    if command == "md":
        args += ["--steps", "5", "--log", str(tmp_path / "md.csv")]
    assert main(args) == 1
    assert message in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "md.csv").exists()


def test_usage_errors(energy_checkpoint, molecule_file, tmp_path):
    base = ["md", "--ckpt", str(energy_checkpoint), "--input", str(molecule_file),
            "--output", str(tmp_path / "t.xyz")]  # fmt: skip
    assert main(base + ["--steps", "0"]) == 2
    assert main(base + ["--steps", "5", "--dt", "-1"]) == 2
    assert main(["relax", "--ckpt", "x", "--input", "y", "--output", "z", "--fmax", "0"]) == 2


def test_progress_line_shows_the_bar_state_and_speed():
    from regconv.md.dynamics import progress_line

    line = progress_line(50, 200, 0.5, 301.26, -12.3456, 0.0123, 5.0)
    assert "[#####---------------]  25%" in line and "step 50/200" in line
    assert "t 25.0 fs" in line and "T 301.3 K" in line and "Epot -12.3456 eV" in line
    assert "drift +0.012 meV/atom" in line and "10.0 steps/s" in line and "15 s left" in line


@pytest.fixture()
def copper_file(tmp_path):
    from regconv.data.crystals import copper_cell

    atoms = copper_cell()
    atoms.set_cell(atoms.cell.array * 1.02, scale_atoms=True)  # stretched: under tension
    atoms.rattle(0.03, seed=2)
    path = tmp_path / "cu.xyz"
    write(path, atoms, format="extxyz")
    return path


def test_relax_cell_lowers_the_stress(copper_checkpoint, copper_file, tmp_path):
    from regconv.ase import RegconvCalculator

    start = read(copper_file)
    start.calc = RegconvCalculator(str(copper_checkpoint), dtype="float64")
    stress0 = np.abs(start.get_stress()).max()
    out = tmp_path / "relaxed.xyz"
    args = ["relax", "--ckpt", str(copper_checkpoint), "--input", str(copper_file), "--cell",
            "--fmax", "0.02", "--steps", "400", "--output", str(out)]  # fmt: skip
    assert main(args) == 0
    relaxed = read(out)
    assert relaxed.info["converged"] and all(relaxed.pbc)
    assert np.abs(relaxed.get_stress()).max() < stress0 / 10
    assert not np.allclose(relaxed.cell.array, start.cell.array)  # the cell moved
    assert np.abs(relaxed.get_forces()).max() < 0.02


def test_npt_md_moves_the_cell_and_logs_volume_and_pressure(
    copper_checkpoint, copper_file, tmp_path
):
    traj, log = tmp_path / "npt.xyz", tmp_path / "npt.csv"
    args = ["md", "--ckpt", str(copper_checkpoint), "--input", str(copper_file),
            "--ensemble", "npt", "--pressure", "0", "--temperature", "300", "--dt", "2",
            "--barostat-tau", "200", "--steps", "60", "--every", "10", "--output", str(traj),
            "--log", str(log)]  # fmt: skip
    assert main(args) == 0
    frames = read(traj, index=":")
    assert len(frames) == 7 and all(f.pbc.all() for f in frames)
    volumes = [f.get_volume() for f in frames]
    assert max(volumes) - min(volumes) > 1e-3  # the barostat moved the cell
    rows = log.read_text().splitlines()
    assert rows[0].endswith(",volume_A3,pressure_GPa")
    logged = [float(r.split(",")[6]) for r in rows[1:]]
    np.testing.assert_allclose(logged, volumes, rtol=1e-6)


def test_periodic_nve_conserves_the_energy(copper_checkpoint, copper_file, tmp_path):
    log = tmp_path / "nve.csv"
    args = ["md", "--ckpt", str(copper_checkpoint), "--input", str(copper_file),
            "--ensemble", "nve", "--temperature", "300", "--dt", "1", "--steps", "100",
            "--dtype", "float64", "--output", str(tmp_path / "nve.xyz"), "--log", str(log)]  # fmt: skip
    assert main(args) == 0
    drift = [abs(float(r.split(",")[5])) for r in log.read_text().splitlines()[1:]]
    assert max(drift) < 0.5  # meV/atom over 100 fs


def test_npt_needs_a_periodic_input_and_consistent_flags(
    copper_checkpoint, molecule_file, copper_file, tmp_path, capsys
):
    out = tmp_path / "npt.xyz"
    args = ["md", "--ckpt", str(copper_checkpoint), "--input", str(molecule_file),
            "--ensemble", "npt", "--steps", "5", "--output", str(out)]  # fmt: skip
    assert main(args) == 1 and not out.exists()
    assert "periodic" in capsys.readouterr().err
    for extra in (["--ensemble", "nve", "--thermostat", "langevin"],
                  ["--ensemble", "nvt", "--pressure", "1"]):  # fmt: skip
        code = main(["md", "--ckpt", str(copper_checkpoint), "--input", str(copper_file),
                     "--steps", "5", "--output", str(out), *extra])  # fmt: skip
        assert code == 2 and not out.exists()
    args = ["relax", "--ckpt", str(copper_checkpoint), "--input", str(molecule_file), "--cell",
            "--output", str(out)]  # fmt: skip
    assert main(args) == 1 and not out.exists()


def test_a_left_handed_or_flat_cell_exits_1_naming_the_file(copper_checkpoint, tmp_path, capsys):
    from regconv.data.crystals import copper_cell

    for name, cell in (("left.xyz", np.diag([-7.2, 7.2, 7.2])),
                       ("flat.xyz", [[7.2, 0, 0], [0, 7.2, 0], [7.2, 0, 0]])):  # fmt: skip
        atoms = copper_cell()
        atoms.set_cell(cell)
        path = tmp_path / name
        write(path, atoms, format="extxyz")
        out = tmp_path / f"out-{name}"
        args = ["md", "--ckpt", str(copper_checkpoint), "--input", str(path), "--steps", "5",
                "--output", str(out)]  # fmt: skip
        assert main(args) == 1 and not out.exists()
        err = capsys.readouterr().err
        assert str(path) in err and ("left-handed" in err or "singular" in err)
