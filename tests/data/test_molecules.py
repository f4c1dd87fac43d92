"""The one molecule reader (XYZ, extended XYZ, ASE databases) and the validation of user arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from regconv.data.molecules import (
    Molecule,
    MoleculeError,
    molecule_from_arrays,
    read_molecules,
    read_xyz,
)

GOOD = "2\nwater-ish\nO 0.0 0.0 0.0\nH 0.0 0.0 0.96\n"


# ------------------------------------------------------------------------------------------------
# molecule_from_arrays
# ------------------------------------------------------------------------------------------------


def test_molecule_from_arrays():
    pos = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.96], [0.93, 0.0, -0.24]]
    for els in (["O", "h", "H"], [8, 1, 1], np.array([8, 1, 1]), torch.tensor([8, 1, 1])):
        mol = molecule_from_arrays(els, pos)
        assert mol.z.tolist() == [8, 1, 1] and mol.z.dtype == torch.long
        assert mol.pos.shape == (3, 3) and mol.pos.dtype == torch.float32


@pytest.mark.parametrize(
    "els, pos, match",
    [
        (["O", "Cl", "H"], np.zeros((3, 3)), r"unknown element 'Cl'.*H, C, N, O, F"),
        ([8, 17, 1], np.zeros((3, 3)), r"unknown element Z=17.*H, C, N, O, F"),
        ([], np.zeros((0, 3)), "empty molecule"),
        (["O", "H", "H"], np.zeros((3, 2)), r"shape \[n, 3\]"),
        (["O", "H", "H"], np.zeros(9), r"shape \[n, 3\]"),
        (["O", "H"], np.zeros((3, 3)), "2 element.*3 position"),
        (["O", "H", "H"], [[0, 0, 0], [0, float("nan"), 0], [1, 0, 0]], "non-finite.*atom 1"),
        (["O", "H", "H"], [[0, 0, 0], [0, 0, 0], [float("inf"), 0, 0]], "non-finite.*atom 2"),
        ("OHH", np.zeros((3, 3)), "one element per atom"),
    ],
)
def test_molecule_from_arrays_rejects(els, pos, match):
    with pytest.raises(ValueError, match=match):
        molecule_from_arrays(els, pos)


def test_the_qm9_and_data_packages_reexport_the_one_reader():
    import regconv.data
    import regconv.data.qm9
    from regconv.training import predict

    assert regconv.data.qm9.molecule_from_arrays is molecule_from_arrays
    assert regconv.data.molecule_from_arrays is molecule_from_arrays
    assert predict.read_xyz is read_xyz and predict.read_molecules is read_molecules
    assert predict.Molecule is Molecule
    assert predict.PredictError is MoleculeError and issubclass(MoleculeError, ValueError)


# ------------------------------------------------------------------------------------------------
# XYZ and extended XYZ
# ------------------------------------------------------------------------------------------------


def test_reader_accepts_atomic_numbers_and_qm9_style_comments(tmp_path):
    path = tmp_path / "qm9style.xyz"
    path.write_text("2\ngdb 1\t157.7\t157.7\n6 0 0 0 -0.5\n1 0 0 1.09 0.1\n")
    (mol,) = read_xyz(path)
    assert mol.name == "gdb 1\t157.7\t157.7"
    assert mol.z.tolist() == [6, 1] and mol.pos.shape == (2, 3)


def test_multi_frame_xyz_names_and_positions(tmp_path):
    path = tmp_path / "frames.xyz"
    path.write_text(GOOD + "\n\n3\n\n  c 0 0 0 9\nH 1.5 0 0\nh 0 -2.25 0\n")
    first, second = read_molecules(path)
    assert first.name == "water-ish" and second.name == "frames_1"
    assert first.where == f"{path} line 1" and second.where == f"{path} line 7"
    assert second.z.tolist() == [6, 1, 1] and second.z.dtype == np.int64
    np.testing.assert_array_equal(second.pos, [[0, 0, 0], [1.5, 0, 0], [0, -2.25, 0]])
    assert second.pos.dtype == np.float64


def test_extended_xyz_columns_and_name(tmp_path):
    path = tmp_path / "one.extxyz"
    path.write_text(
        "2\n"
        'Properties=forces:R:3:species:S:1:pos:R:3 name="first one" energy=-1.5 pbc="F F F"\n'
        "0.1 0.2 0.3 O 0 0 0\n"
        "0.1 0.2 0.3 H 0 0 0.96\n"
    )
    (mol,) = read_xyz(path)
    assert mol.name == "first one" and mol.z.tolist() == [8, 1]
    np.testing.assert_array_equal(mol.pos, [[0, 0, 0], [0, 0, 0.96]])


@pytest.mark.parametrize(
    "text, fragments",
    [
        ("3\nx\nC 0 0 0\nXx 1 0 0\nH 0 1 0\n", ["line 4", "unknown element 'Xx'", "molecule 0"]),
        ("2\nx\nC 0 0 0\nU 1 0 0\n", ["line 4", "unknown element 'U'", "H, C, N, O, F"]),
        ("2\nx\nC 0 0 0\n92 1 0 0\n", ["line 4", "unknown element '92'"]),
        ("2\nx\nC 0 0\nH 0 0 1\n", ["line 3", "wrong column count", "got 3"]),
        (
            "2\nProperties=species:S:1:pos:R:3\nC 0 0 0\nH 0 0 1 7\n",
            ["line 4", "wrong column count", "exactly 4"],
        ),
        ("1\nProperties=species:S:1\nC\n", ["line 2", "needs a species (S:1) and a pos (R:3)"]),
        ("1\nProperties=species:S\nC 0 0 0\n", ["line 2", "malformed Properties"]),
        ("1\nProperties=species:S:x:pos:R:3\nC 0 0 0\n", ["line 2", "bad column count 'x'"]),
        ("2\nx\nC 0 nan 0\nH 0 0 1\n", ["line 3", "non-finite"]),
        ("2\nx\nC 0 0 0\nH inf 0 1\n", ["line 4", "non-finite"]),
        ("2\nx\nC 0 zero 0\nH 0 0 1\n", ["line 3", "must be numbers"]),
        ("3\nx\nC 0 0 0\nH 0 0 1\n", ["line 5", "declares 3 atoms", "only 2"]),
        ("two\nx\nC 0 0 0\n", ["line 1", "atom count"]),
        ("1\n", ["line 2", "missing the comment line"]),
        (GOOD + "2\nsecond\nC 0 0 0\nQ 0 0 1\n", ["line 8", "molecule 1 (second)"]),
        (GOOD + "C 0 0 3\n", ["line 5", "atom count of molecule 1"]),
        ("\n\n", ["no molecules"]),
    ],
)
def test_bad_xyz_is_a_clear_error(tmp_path, text, fragments):
    path = tmp_path / "bad.xyz"
    path.write_text(text)
    with pytest.raises(MoleculeError) as info:
        read_molecules(path)
    message = str(info.value)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(MoleculeError, match="no such file"):
        read_molecules(tmp_path / "nope.xyz")
    binary = tmp_path / "blob.xyz"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MoleculeError, match="not a UTF-8 text file"):
        read_molecules(binary)


# ------------------------------------------------------------------------------------------------
# ASE databases
# ------------------------------------------------------------------------------------------------


def test_ase_database(tmp_path):
    ase_db = pytest.importorskip("ase.db")
    from ase import Atoms

    path = tmp_path / "mols.db"
    with ase_db.connect(str(path)) as db:
        db.write(Atoms(numbers=[8, 1, 1], positions=np.eye(3)), name="water")
        db.write(Atoms(numbers=[6, 1], positions=np.zeros((2, 3))))
    water, second = read_molecules(path)
    assert water.name == "water" and second.name == "mols_2"
    assert water.z.tolist() == [8, 1, 1] and water.where == f"{path} row id=1"
    np.testing.assert_array_equal(water.pos, np.eye(3))

    bad = tmp_path / "bad.db"
    with ase_db.connect(str(bad)) as db:
        db.write(Atoms(numbers=[8, 17], positions=np.zeros((2, 3))))
    with pytest.raises(MoleculeError, match=r"row id=1: unknown element Z=17.*H, C, N, O, F"):
        read_molecules(bad)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all")
    with pytest.raises(MoleculeError, match="cannot read as an ASE database"):
        read_molecules(junk)


# ------------------------------------------------------------------------------------------------
# the rest of a record (what the energy + force readers read) and elements beyond QM9's
# ------------------------------------------------------------------------------------------------


def test_extended_xyz_keeps_comment_pairs_and_per_atom_columns(tmp_path):
    path = tmp_path / "iron.extxyz"
    path.write_text(
        "2\n"
        'Properties=species:S:1:pos:R:3:REF_forces:R:3:tag:S:1 REF_energy=-1.5 pbc="F F F"\n'
        "Fe 0 0 0 0.1 0.2 0.3 a\n"
        "H 0 0 1.5 -0.1 -0.2 -0.3 b\n"
    )
    with pytest.raises(MoleculeError, match=r"line 3: unknown element 'Fe'.*H, C, N, O, F"):
        read_xyz(path)
    (mol,) = read_xyz(path, elements="any")
    assert mol.z.tolist() == [26, 1] and mol.name == "iron_0"
    assert mol.properties["REF_energy"] == "-1.5" and mol.properties["pbc"] == "F F F"
    assert "Properties" not in mol.properties
    np.testing.assert_array_equal(
        mol.properties["REF_forces"], [[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3]]
    )
    assert mol.properties["REF_forces"].dtype == np.float64
    assert mol.properties["tag"].tolist() == [["a"], ["b"]]
    path.write_text(path.read_text().replace("-0.2", "x"))
    with pytest.raises(MoleculeError, match=r"iron\.extxyz line 4: column 'REF_forces' must be"):
        read_xyz(path, elements="any")
    with pytest.raises(ValueError, match="elements must be 'qm9' or 'any'"):
        read_molecules(path, elements="all")


def test_ase_database_rows_keep_their_labels(tmp_path):
    ase_db = pytest.importorskip("ase.db")
    from ase.calculators.singlepoint import SinglePointCalculator

    from ase import Atoms

    path = tmp_path / "labelled.db"
    atoms = Atoms(numbers=[26, 1], positions=np.eye(2, 3))
    atoms.calc = SinglePointCalculator(atoms, energy=-2.0, forces=np.ones((2, 3)))
    with ase_db.connect(str(path)) as db:
        db.write(atoms, REF_energy=-3.0, data={"REF_forces": np.zeros((2, 3))})
    with pytest.raises(MoleculeError, match="row id=1: unknown element Z=26"):
        read_molecules(path)
    (mol,) = read_molecules(path, elements="any")
    assert mol.properties["energy"] == -2.0 and mol.properties["REF_energy"] == -3.0
    np.testing.assert_array_equal(mol.properties["forces"], np.ones((2, 3)))
    np.testing.assert_array_equal(mol.properties["REF_forces"], np.zeros((2, 3)))
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(MoleculeError, match=r"empty\.db: empty file"):
        read_molecules(empty)
