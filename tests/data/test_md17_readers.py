"""MD17 readers and units: small rMD17 / sGDML / extended XYZ / ASE-db files written here, the
unit table against hand-computed values, and a ValueError naming the file for every bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from regconv.data.md17 import published
from regconv.data.md17.frames import Frames
from regconv.data.md17.readers import read_frames
from regconv.data.md17.units import UNITS, canonical_unit, to_mev

KCAL = 43.3641  # meV per kcal/mol (4184 J/mol / (N_A e) = 43.364104 meV)
Z = np.array([8, 1, 1])  # water


def _frames(f: int = 4, n: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(f, n, 3)), rng.normal(size=f) - 100.0, rng.normal(size=(f, n, 3))


def _rmd17(path, z=Z, coords=None, energies=None, forces=None, drop=()):
    c, e, f = _frames()
    arrays = {
        "nuclear_charges": z,
        "coords": c if coords is None else coords,
        "energies": e if energies is None else energies,
        "forces": f if forces is None else forces,
        "old_indices": np.arange(4),
    }
    np.savez(path, **{k: v for k, v in arrays.items() if k not in drop})
    return path


# ---------------------------------------------------------------------------------------------
# units


def test_units_against_hand_computed_values():
    assert to_mev(1.0, "kcal/mol") == pytest.approx(KCAL, rel=2e-6)
    assert to_mev(1.0, "kcal/mol") == pytest.approx(4184 / 6.02214076e23 / 1.602176634e-19 * 1e3)
    assert to_mev(1.0, "kcal/mol/Å") == pytest.approx(KCAL, rel=2e-6)
    assert to_mev(2.5, "eV") == 2500.0
    assert to_mev(-0.25, "eV/Å") == -250.0
    assert to_mev(1.0, "Hartree") == 27211.386245988
    assert to_mev(1.0, "Ha") == 27211.386245988
    assert to_mev(1.0, "Hartree/Bohr") == pytest.approx(27211.386245988 / 0.529177210903)
    assert to_mev(3.0, "meV") == 3.0
    out = to_mev(np.ones((2, 3, 3), dtype=np.float32), "kcal/mol/A")
    assert out.shape == (2, 3, 3) and out.dtype == np.float64
    assert canonical_unit("kcal/mol/Ang") == "kcal/mol/A"
    assert set(UNITS) >= {"meV", "eV", "kcal/mol", "Hartree", "eV/A", "kcal/mol/A", "meV/A"}


def test_unknown_unit_is_named():
    with pytest.raises(ValueError, match="'kJ/mol'"):
        to_mev(1.0, "kJ/mol")


# ---------------------------------------------------------------------------------------------
# readers of each format


def test_rmd17_npz(tmp_path):
    path = _rmd17(tmp_path / "rmd17_water.npz")
    c, e, f = _frames()
    frames = read_frames(path)
    assert isinstance(frames, Frames) and frames.format == "rmd17" and len(frames) == 4
    assert frames.metadata["energy_unit"] == "kcal/mol"
    np.testing.assert_allclose(frames.energy, e * KCAL, rtol=2e-6)
    np.testing.assert_allclose(frames.forces.reshape(4, 3, 3), f * KCAL, rtol=2e-6)
    np.testing.assert_array_equal(frames.pos.reshape(4, 3, 3), c)
    item = frames[2]
    assert item.z.dtype == torch.long and item.z.tolist() == [8, 1, 1]
    assert item.pos.shape == (3, 3) and item.pos.dtype == torch.float32
    assert item.energy.shape == (1,) and item.energy.dtype == torch.float64
    assert item.forces.shape == (3, 3) and item.forces.dtype == torch.float32
    assert float(item.energy) == pytest.approx(e[2] * KCAL, rel=2e-6)
    assert frames.same_molecule and frames.metadata["rmd17_folds"] == []


def test_sgdml_npz(tmp_path):
    c, e, f = _frames()
    np.savez(tmp_path / "md17_water.npz", z=Z, R=c, E=e[:, None], F=f, name="water")
    frames = read_frames(tmp_path / "md17_water.npz")
    assert frames.format == "sgdml"
    np.testing.assert_allclose(frames.energy, e * KCAL, rtol=2e-6)
    np.testing.assert_allclose(frames.forces.reshape(4, 3, 3), f * KCAL, rtol=2e-6)
    # an sGDML file that states its units is read in them
    np.savez(tmp_path / "ev.npz", z=Z, R=c, E=e, F=f, e_unit="eV", r_unit="Ang")
    np.testing.assert_allclose(read_frames(tmp_path / "ev.npz").energy, e * 1000.0)


def _ase_images(custom: bool):
    from ase.calculators.singlepoint import SinglePointCalculator

    from ase import Atoms

    c, e, f = _frames(3)
    images = []
    for k in range(3):
        atoms = Atoms(numbers=Z, positions=c[k])
        if custom:
            atoms.info["REF_energy"] = e[k]
            atoms.arrays["REF_forces"] = f[k]
        else:
            atoms.calc = SinglePointCalculator(atoms, energy=e[k], forces=f[k])
        images.append(atoms)
    return images, (c, e, f)


@pytest.mark.parametrize("custom", [False, True], ids=["calculator", "custom-keys"])
def test_extxyz(tmp_path, custom):
    import ase.io

    images, (c, e, f) = _ase_images(custom)
    path = tmp_path / "water.xyz"
    ase.io.write(path, images, format="extxyz")
    keys = dict(energy_key="REF_energy", forces_key="REF_forces") if custom else {}
    frames = read_frames(path, **keys)
    assert frames.format == "extxyz" and len(frames) == 3
    # extended XYZ keeps ~8 decimals: 1e-8 eV = 1e-5 meV
    np.testing.assert_allclose(frames.energy, e * 1000.0, rtol=0, atol=1e-4)
    np.testing.assert_allclose(frames.forces.reshape(3, 3, 3), f * 1000.0, rtol=0, atol=1e-4)
    np.testing.assert_allclose(frames.pos.reshape(3, 3, 3), c, rtol=0, atol=1e-7)


@pytest.mark.parametrize("custom", [False, True], ids=["calculator", "custom-keys"])
def test_ase_db(tmp_path, custom):
    import ase.db

    images, (c, e, f) = _ase_images(custom)
    path = tmp_path / "water.db"
    with ase.db.connect(str(path)) as db:
        for k, atoms in enumerate(images):
            if custom:
                db.write(atoms, REF_energy=float(e[k]), data={"REF_forces": f[k]})
            else:
                db.write(atoms)
    keys = dict(energy_key="REF_energy", forces_key="REF_forces") if custom else {}
    frames = read_frames(path, **keys)
    assert frames.format == "ase-db" and len(frames) == 3
    np.testing.assert_allclose(frames.energy, e * 1000.0, rtol=1e-12)
    np.testing.assert_allclose(frames.forces.reshape(3, 3, 3), f * 1000.0, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# bad input: a ValueError naming the file and the key / frame / line


def _bad_rmd17(tmp_path, case):
    c, e, f = _frames()
    path = tmp_path / f"bad_{case}.npz"
    if case == "missing-forces":
        return _rmd17(path, drop=("forces",)), "'forces'"
    if case == "forces-shape":
        return _rmd17(path, forces=f[:, :2]), "'forces'"
    if case == "coords-vs-charges":
        return _rmd17(path, z=np.array([8, 1])), "'coords'"
    if case == "energies-shape":
        return _rmd17(path, energies=e[:3]), "'energies'"
    if case == "nan-energy":
        e[2] = np.nan
        return _rmd17(path, energies=e), "'energies' is not finite at frame 2"
    if case == "inf-forces":
        f[1, 0, 0] = np.inf
        return _rmd17(path, forces=f), "'forces' is not finite at frame 1"
    if case == "element-0":
        return _rmd17(path, z=np.array([8, 0, 1])), "atomic number 0"
    if case == "element-119":
        return _rmd17(path, z=np.array([119, 1, 1])), "atomic number 119"
    if case == "unknown-layout":
        np.savez(path, a=np.zeros(3))
        return path, "unknown .npz layout"
    if case == "not-a-zip":
        path.write_bytes(b"this is not a zip file at all")
        return path, "not a readable .npz"
    if case == "empty":
        path.write_bytes(b"")
        return path, "empty"
    raise AssertionError(case)


BAD_NPZ = [
    "missing-forces",
    "forces-shape",
    "coords-vs-charges",
    "energies-shape",
    "nan-energy",
    "inf-forces",
    "element-0",
    "element-119",
    "unknown-layout",
    "not-a-zip",
    "empty",
]


@pytest.mark.parametrize("case", BAD_NPZ)
def test_bad_npz_names_file_and_key(tmp_path, case):
    path, what = _bad_rmd17(tmp_path, case)
    with pytest.raises(ValueError) as err:
        read_frames(path)
    msg = str(err.value)
    assert path.name in msg and what in msg, msg


def test_bad_sgdml_shapes(tmp_path):
    c, e, f = _frames()
    np.savez(tmp_path / "s.npz", z=Z, R=c, E=e[:, None], F=f[:, :, :2])
    with pytest.raises(ValueError, match=r"s\.npz.*'F'"):
        read_frames(tmp_path / "s.npz")
    np.savez(tmp_path / "u.npz", z=Z, R=c, E=e, F=f, r_unit="bohr")
    with pytest.raises(ValueError, match=r"u\.npz.*r_unit"):
        read_frames(tmp_path / "u.npz")


def test_bad_extxyz(tmp_path):
    import ase.io

    images, _ = _ase_images(custom=False)
    path = tmp_path / "w.xyz"
    ase.io.write(path, images, format="extxyz")
    with pytest.raises(ValueError, match=r"w\.xyz frame 0.*'REF_energy'"):
        read_frames(path, energy_key="REF_energy")
    images[1].calc.results["forces"] = np.full((3, 3), np.nan)
    ase.io.write(path, images, format="extxyz")
    with pytest.raises(ValueError, match=r"w\.xyz frame 1: forces 'forces' are not finite"):
        read_frames(path)
    images, _ = _ase_images(custom=True)
    images[2].arrays["REF_forces"] = np.zeros((3, 2))
    ase.io.write(path, images, format="extxyz")
    with pytest.raises(ValueError, match=r"w\.xyz"):
        read_frames(path, energy_key="REF_energy", forces_key="REF_forces")
    path.write_text("1\nProperties=species:S:1:pos:R:3 energy=1.0\nXx 0 0 0\n")
    with pytest.raises(ValueError, match=r"w\.xyz line 3: unknown element 'Xx'"):
        read_frames(path)
    # the one molecule reader parses the file: problems name the line
    path.write_text("1\nProperties=species:S:1:pos:R:3:forces:R:3 energy=1.0\nH 0 0 0 1 y 0\n")
    with pytest.raises(ValueError, match=r"w\.xyz line 3: column 'forces' must be numbers"):
        read_frames(path)
    path.write_text("1\nProperties=species:S:1:pos:R:3:forces:R:3 energy=one\nH 0 0 0 1 0 0\n")
    with pytest.raises(ValueError, match=r"w\.xyz frame 0: energy 'energy' is not one number"):
        read_frames(path)
    path.write_text("")
    with pytest.raises(ValueError, match=r"w\.xyz.*empty"):
        read_frames(path)


def test_bad_ase_db(tmp_path):
    import ase.db

    images, _ = _ase_images(custom=False)
    path = tmp_path / "w.db"
    with ase.db.connect(str(path)) as db:
        db.write(images[0])
    with pytest.raises(ValueError, match=r"w\.db row id=1.*'REF_forces'"):
        read_frames(path, forces_key="REF_forces")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.db.*empty"):
        read_frames(empty)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not sqlite" * 100)
    with pytest.raises(ValueError, match=r"garbage\.db"):
        read_frames(garbage)


def test_unknown_suffix_and_missing_file(tmp_path):
    (tmp_path / "a.txt").write_text("1\n")
    with pytest.raises(ValueError, match=r"a\.txt.*suffix"):
        read_frames(tmp_path / "a.txt")
    with pytest.raises(ValueError, match="unknown format"):
        read_frames(tmp_path / "a.txt", format="pdb")
    with pytest.raises(FileNotFoundError):
        read_frames(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------------------------
# the published rMD17 split files


def _write_index(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{v}\n" for v in values))


def test_rmd17_split_files(tmp_path):
    c, e, f = _frames(f=60)
    data = tmp_path / "rmd17" / "npz_data" / "rmd17_water.npz"
    data.parent.mkdir(parents=True)
    np.savez(data, nuclear_charges=Z, coords=c, energies=e, forces=f)
    splits = tmp_path / "rmd17" / "splits"  # the archive's layout: ../splits/
    _write_index(splits / "index_train_01.csv", range(0, 40))
    _write_index(splits / "index_test_01.csv", range(40, 60))
    _write_index(data.parent / "index_train_03.csv", [1, 2])  # beside the file, but no test file
    assert read_frames(data).metadata["rmd17_folds"] == [1]
    assert published.find_split_files(data, 1) == (
        splits / "index_train_01.csv",
        splits / "index_test_01.csv",
    )
    with pytest.raises(ValueError, match=r"rmd17_water\.npz.*split 3 is missing.*index_test_03"):
        published.find_split_files(data, 3)
    with pytest.raises(ValueError, match="fold"):
        published.find_split_files(data, 6)
    bad = tmp_path / "bad.csv"
    for text, what in [
        ("1\n2\nx\n", "line 3"),
        ("1\n70\n", "line 2: frame index 70 out of range"),
        ("1\n1\n", "line 2: frame index 1 repeats line 1"),
        ("\n\n", "no frame indices"),
    ]:
        bad.write_text(text)
        with pytest.raises(ValueError, match=f"bad.csv.*{what}"):
            published.read_index_file(bad, 60)
    np.testing.assert_array_equal(
        published.read_index_file(splits / "index_test_01.csv", 60), np.arange(40, 60)
    )
