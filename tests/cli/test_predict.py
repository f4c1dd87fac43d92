"""``regconv predict``: (extended) XYZ and ASE input, CSV output, clear errors, atomic writes."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import lightning.pytorch as L
import pytest
import torch
from torch_geometric.data import Batch

from regconv.cli.main import main
from regconv.data.qm9 import QM9, molecule_from_arrays
from regconv.training import QM9DataModule, RegressionTask, nbody_task

TINY = {"hidden": 8, "layers": 1, "basis_dim": 8}
SYMBOL = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("predict")


@pytest.fixture(scope="module")
def ckpt(workdir) -> Path:
    """A (briefly) trained QM9 checkpoint with two targets and EMA weights."""
    torch.manual_seed(0)
    dm = QM9DataModule(
        target=["homo", "alpha"], train_subset=32, val_subset=8, test_subset=8, batch_size=8
    )
    task = RegressionTask(model="r3", model_options=TINY, task=dm.task_spec, ema_decay=0.5)
    trainer = L.Trainer(
        accelerator="cpu", max_steps=4, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
        default_root_dir=workdir,
    )  # fmt: skip
    trainer.fit(task, dm)
    path = workdir / "qm9.ckpt"
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="module")
def molecules():
    ds = QM9("test", subset=5, targets=["homo"])
    return [ds[i] for i in range(5)]


def expected(ckpt: Path, mols) -> torch.Tensor:
    task = RegressionTask.load_from_checkpoint(ckpt, map_location="cpu").eval()
    with torch.no_grad():
        batch = Batch.from_data_list([molecule_from_arrays(m.z, m.pos) for m in mols])
        return task(batch).double()


def atom_lines(m, style: int) -> list[str]:
    out = []
    for k, (z, p) in enumerate(zip(m.z.tolist(), m.pos.tolist(), strict=True)):
        x, y, w = (repr(float(v)) for v in p)
        if style == 1 and k == 0:
            out.append(f"{z} {x} {y} {w}")  # an atomic number
        elif style == 2:
            out.append(f"  {SYMBOL[z].lower()}\t{x}  {y} {w}   0.25")  # extra column, lower case
        else:
            out.append(f"{SYMBOL[z]} {x} {y} {w}")
    return out


def write_xyz(path: Path, mols) -> Path:
    lines = []
    for i, m in enumerate(mols):
        lines += [str(m.num_nodes), f"molecule number {i}" if i != 3 else ""]
        lines += atom_lines(m, i % 3)
        if i == 1:
            lines.append("")  # blank line between frames
    path.write_text("\n".join(lines) + "\n")
    return path


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_predict_csv_matches_the_model(workdir, ckpt, molecules, capsys):
    xyz = write_xyz(workdir / "mols.xyz", molecules)
    out = workdir / "preds.csv"
    assert main(["predict", "--ckpt", str(ckpt), "--input", str(xyz), "--output", str(out)]) == 0
    rows = read_csv(out.read_text())
    assert rows[0] == ["index", "name", "homo [meV]", "alpha [bohr^3]"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]
    assert [r[1] for r in rows[1:]] == [
        "molecule number 0", "molecule number 1", "molecule number 2", "mols_3",
        "molecule number 4",
    ]  # fmt: skip
    got = torch.tensor([[float(v) for v in r[2:]] for r in rows[1:]], dtype=torch.float64)
    torch.testing.assert_close(got, expected(ckpt, molecules), rtol=1e-6, atol=1e-6)
    assert "wrote 5 prediction(s)" in capsys.readouterr().err


def test_extended_xyz_and_stdout(workdir, ckpt, molecules, capsys):
    m = molecules[0]
    lines = [
        str(m.num_nodes),
        'Properties=species:S:1:pos:R:3:forces:R:3 name="first one" energy=-1.5 pbc="F F F"',
    ]
    for z, p in zip(m.z.tolist(), m.pos.tolist(), strict=True):
        lines.append(f"{SYMBOL[z]} {p[0]!r} {p[1]!r} {p[2]!r} 0.1 0.2 0.3")
    path = workdir / "one.extxyz"
    path.write_text("\n".join(lines) + "\n")
    assert main(["predict", "--ckpt", str(ckpt), "--input", str(path)]) == 0
    rows = read_csv(capsys.readouterr().out)
    assert rows[1][1] == "first one"
    got = torch.tensor([[float(v) for v in rows[1][2:]]], dtype=torch.float64)
    torch.testing.assert_close(got, expected(ckpt, molecules[:1]), rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_predict_in_a_new_process_needs_only_the_checkpoint(workdir, ckpt, molecules):
    xyz = write_xyz(workdir / "sub.xyz", molecules[:2])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "regconv.cli.main",
        "predict",
        "--ckpt",
        str(ckpt),
        "--input",
        str(xyz),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = read_csv(proc.stdout)
    got = torch.tensor([[float(v) for v in r[2:]] for r in rows[1:]], dtype=torch.float64)
    torch.testing.assert_close(got, expected(ckpt, molecules[:2]), rtol=1e-6, atol=1e-6)


GOOD = "2\nwater-ish\nO 0.0 0.0 0.0\nH 0.0 0.0 0.96\n"


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("3\nx\nC 0 0 0\nXx 1 0 0\nH 0 1 0\n", ["line 4", "unknown element 'Xx'", "molecule 0"]),
        ("2\nx\nC 0 0 0\nU 1 0 0\n", ["line 4", "unknown element 'U'"]),
        ("2\nx\nC 0 0 0\n92 1 0 0\n", ["line 4", "unknown element '92'"]),
        ("2\nx\nC 0 0\nH 0 0 1\n", ["line 3", "wrong column count", "got 3"]),
        (
            "2\nProperties=species:S:1:pos:R:3\nC 0 0 0\nH 0 0 1 7\n",
            ["line 4", "wrong column count", "exactly 4"],
        ),
        ("2\nx\nC 0 nan 0\nH 0 0 1\n", ["line 3", "non-finite"]),
        ("2\nx\nC 0 0 0\nH inf 0 1\n", ["line 4", "non-finite"]),
        ("2\nx\nC 0 zero 0\nH 0 0 1\n", ["line 3", "must be numbers"]),
        ("3\nx\nC 0 0 0\nH 0 0 1\n", ["line 5", "declares 3 atoms", "only 2"]),
        ("two\nx\nC 0 0 0\n", ["line 1", "atom count"]),
        (GOOD + "2\nsecond\nC 0 0 0\nQ 0 0 1\n", ["line 8", "molecule 1 (second)"]),
        (GOOD + "C 0 0 3\n", ["line 5", "atom count of molecule 1"]),
        ("\n\n", ["no molecules"]),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(workdir, ckpt, text, fragments, capsys):
    path = workdir / "bad.xyz"
    path.write_text(text)
    out = workdir / "bad.csv"
    if out.exists():
        out.unlink()
    code = main(["predict", "--ckpt", str(ckpt), "--input", str(path), "--output", str(out)])
    assert code == 1
    err = capsys.readouterr().err
    assert str(path) in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not out.exists()
    assert not list(workdir.glob(".bad.csv.*"))


def test_a_failed_prediction_keeps_the_previous_output(workdir, ckpt, capsys):
    out = workdir / "kept.csv"
    out.write_text("previous\n")
    bad = workdir / "bad2.xyz"
    bad.write_text("1\nx\nZz 0 0 0\n")
    assert main(["predict", "--ckpt", str(ckpt), "--input", str(bad), "--output", str(out)]) == 1
    assert out.read_text() == "previous\n"


def test_checkpoint_of_another_task_is_refused(workdir, capsys):
    torch.manual_seed(0)
    task = RegressionTask(model="r3", model_options=TINY, task=nbody_task())
    path = workdir / "nbody.ckpt"
    torch.save(
        {"state_dict": task.state_dict(), "hyper_parameters": dict(task.hparams),
         "pytorch-lightning_version": L.__version__},
        path,
    )  # fmt: skip
    xyz = workdir / "good.xyz"
    xyz.write_text(GOOD)
    out = workdir / "nb.csv"
    assert main(["predict", "--ckpt", str(path), "--input", str(xyz), "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert "nbody" in err and "node_vector" in err and "molecules" in err
    assert not out.exists()


def test_missing_or_invalid_checkpoint(workdir, capsys):
    xyz = workdir / "good.xyz"
    xyz.write_text(GOOD)
    assert main(["predict", "--ckpt", str(workdir / "nope.ckpt"), "--input", str(xyz)]) == 1
    assert "no such checkpoint" in capsys.readouterr().err
    junk = workdir / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint at all")
    assert main(["predict", "--ckpt", str(junk), "--input", str(xyz)]) == 1
    assert "not a regconv checkpoint" in capsys.readouterr().err
    assert main(["predict", "--input", str(xyz)]) == 2  # --ckpt is required


def test_ase_database_input(workdir, ckpt, molecules, capsys):
    ase_db = pytest.importorskip("ase.db")
    from ase import Atoms

    path = workdir / "mols.db"
    if path.exists():
        path.unlink()
    with ase_db.connect(str(path)) as db:
        for i, m in enumerate(molecules[:3]):
            db.write(Atoms(numbers=m.z.tolist(), positions=m.pos.double().numpy()), name=f"m{i}")
    out = workdir / "db.csv"
    assert main(["predict", "--ckpt", str(ckpt), "--input", str(path), "--output", str(out)]) == 0
    rows = read_csv(out.read_text())
    assert [r[1] for r in rows[1:]] == ["m0", "m1", "m2"]
    got = torch.tensor([[float(v) for v in r[2:]] for r in rows[1:]], dtype=torch.float64)
    torch.testing.assert_close(got, expected(ckpt, molecules[:3]), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--batch_size", "0"], "--batch_size must be an integer >= 1"),
        (["--rotations", "-1"], "--rotations must be an integer >= 0"),
        (["--batch_size", "two"], "invalid int value"),
    ],
)
def test_bad_options_are_usage_errors(workdir, extra, message, capsys):
    xyz = workdir / "good.xyz"
    xyz.write_text(GOOD)
    args = ["predict", "--ckpt", str(workdir / "never.ckpt"), "--input", str(xyz), *extra]
    assert main(args) == 2  # before the checkpoint is read
    err = capsys.readouterr().err
    assert "usage: regconv predict" in err and message in err
