"""The generated GFN2-xTB sets: the ten molecules, bit-for-bit reproducible frames of ethanol,
forces = -dE/dx by central differences of the tblite energy (units and sign), energies in meV,
the checksummed cache (reuse, corrupt, stale), the dataset on a generated set and the CLI."""

from __future__ import annotations

import json
import sys
from collections import Counter

import numpy as np
import pytest
import torch

from regconv.data.md17 import cache as md17_cache
from regconv.data.md17 import generate as gen
from regconv.data.md17.catalog import MOLECULES, NUM_ATOMS, start_geometry
from regconv.data.md17.cli import main
from regconv.data.md17.dataset import MD17

TINY = dict(frames=3, every=2, equilibration=2)  # 8 MD steps of ethanol, well under a second
FORMULAS = {
    "aspirin": {6: 9, 1: 8, 8: 4},
    "azobenzene": {6: 12, 1: 10, 7: 2},
    "benzene": {6: 6, 1: 6},
    "ethanol": {6: 2, 1: 6, 8: 1},
    "malonaldehyde": {6: 3, 1: 4, 8: 2},
    "naphthalene": {6: 10, 1: 8},
    "paracetamol": {6: 8, 1: 9, 7: 1, 8: 2},
    "salicylic_acid": {6: 7, 1: 6, 8: 3},
    "toluene": {6: 7, 1: 8},
    "uracil": {6: 4, 1: 4, 7: 2, 8: 2},
}


@pytest.fixture(scope="module")
def ethanol():
    return gen.generate_frames("ethanol", seed=0, verbose=False, **TINY)


def test_the_ten_molecules():
    assert set(MOLECULES) == set(FORMULAS) == set(NUM_ATOMS)
    for name in MOLECULES:
        z, pos = start_geometry(name, seed=0)
        assert dict(Counter(z.tolist())) == FORMULAS[name], name
        assert z.shape == (NUM_ATOMS[name],) and pos.shape == (NUM_ATOMS[name], 3)
    np.testing.assert_array_equal(start_geometry("aspirin", 3)[1], start_geometry("aspirin", 3)[1])
    assert start_geometry("Salicylic acid")[0].shape == (16,)
    with pytest.raises(ValueError, match="unknown molecule 'water'"):
        start_geometry("water")


def test_same_seed_same_frames_bit_for_bit(ethanol):
    again = gen.generate_frames("ethanol", seed=0, verbose=False, **TINY)
    assert set(again) == {"z", "pos", "energy", "forces", "md_step"}
    for key in again:
        np.testing.assert_array_equal(again[key], ethanol[key], err_msg=key)
    assert gen.arrays_sha256(again) == gen.arrays_sha256(ethanol)
    other = gen.generate_frames("ethanol", seed=1, verbose=False, **TINY)
    assert not np.array_equal(other["pos"], ethanol["pos"])
    assert ethanol["md_step"].tolist() == [4, 6, 8]
    assert ethanol["pos"].shape == (3, 9, 3) and ethanol["forces"].shape == (3, 9, 3)


def test_energies_are_in_mev(ethanol):
    # GFN2-xTB total energy of ethanol is about -310 eV = -3.1e5 meV
    assert np.all((ethanol["energy"] > -3.2e5) & (ethanol["energy"] < -3.0e5))
    assert 100.0 < np.abs(ethanol["forces"]).max() < 1e5  # meV/Å at 500 K


def test_forces_are_minus_the_energy_gradient(ethanol):
    from ase import Atoms

    # central differences of the tblite energy (meV) at frame 1, step 1e-4 Å; measured: max
    # deviation 5e-5 of max |F| (SCF noise and O(h^2)); a sign or unit error would be O(1)
    pos, forces = ethanol["pos"][1], ethanol["forces"][1]
    atoms = Atoms(numbers=ethanol["z"], positions=pos)
    atoms.calc = gen.xtb_calculator()
    h = 1e-4
    grad = np.zeros_like(pos)
    for i in range(pos.shape[0]):
        for d in range(3):
            e = []
            for sign in (1.0, -1.0):
                p = pos.copy()
                p[i, d] += sign * h
                atoms.positions = p
                e.append(atoms.get_potential_energy() * 1000.0)
            grad[i, d] = (e[0] - e[1]) / (2 * h)
    scale = np.abs(forces).max()
    assert np.abs(-grad - forces).max() < 1e-3 * scale
    atoms.positions = pos
    assert atoms.get_potential_energy() * 1000.0 == pytest.approx(ethanol["energy"][1], abs=1e-3)


def test_progress_and_checksum_are_printed():
    lines: list[str] = []
    arrays = gen.generate_frames("ethanol", seed=0, log=lines.append, **TINY)
    assert any("frame 3/3 (100%)" in s for s in lines)
    assert lines[-1].endswith(f"sha256 {gen.arrays_sha256(arrays)}")


def test_cache_reuse_corrupt_and_stale(tmp_path, capsys, monkeypatch, ethanol):
    path = md17_cache.ensure_generated("ethanol", 0, root=tmp_path, verbose=False, **TINY)
    assert path == md17_cache.cache_path("ethanol", 0, frames=3, every=2, root=tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["data_sha256"] == gen.arrays_sha256(ethanol)
    assert meta["protocol"]["friction_per_fs"] == 0.01

    def boom(*args, **kwargs):
        raise AssertionError("a verified cache must not be regenerated")

    with monkeypatch.context() as m:
        m.setattr(gen, "generate_frames", boom)
        arrays, _ = md17_cache.load_generated("ethanol", 0, root=tmp_path, verbose=False, **TINY)
    np.testing.assert_array_equal(arrays["forces"], ethanol["forces"])

    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    capsys.readouterr()
    md17_cache.ensure_generated("ethanol", 0, root=tmp_path, verbose=False, **TINY)
    assert "corrupt" in capsys.readouterr().err
    assert md17_cache.cache_problem(path, meta["protocol"]) is None

    meta = json.loads(path.with_suffix(".json").read_text())
    meta["protocol"]["equilibration"] = 1000
    path.with_suffix(".json").write_text(json.dumps(meta))
    arrays, _ = md17_cache.load_generated("ethanol", 0, root=tmp_path, verbose=False, **TINY)
    err = capsys.readouterr().err
    assert "stale" in err and "equilibration" in err
    np.testing.assert_array_equal(arrays["pos"], ethanol["pos"])


def test_dataset_on_a_generated_set(tmp_path):
    opts = dict(frames=6, every=1, equilibration=1, root=tmp_path)
    train = MD17(molecule="ethanol", scheme="random", n_train=3, n_val=1, **opts)
    test = MD17(molecule="ethanol", split="test", scheme="random", n_train=3, n_val=1, **opts)
    assert (len(train), len(test)) == (3, 2)
    item = train[0]
    assert item.z.dtype == torch.long and item.z.shape == (9,)
    assert item.pos.shape == (9, 3) and item.forces.shape == (9, 3)
    assert item.energy.shape == (1,) and -3.2e5 < float(item.energy) < -3.0e5
    assert train.split_record["generated"] == train.generated["data_sha256"]
    assert "GFN2-xTB" in repr(train)


def test_cli_generate_and_summary(tmp_path, capsys, ethanol):
    argv = ["generate", "--molecule", "ethanol", "--frames", "3", "--every", "2"]
    assert main([*argv, "--equilibration", "2", "--root", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert f"sha256 (arrays): {gen.arrays_sha256(ethanol)}" in captured.out
    assert "frame 3/3" in captured.err
    npz = md17_cache.cache_path("ethanol", 0, frames=3, every=2, root=tmp_path)
    assert main(["summary", "--path", str(npz)]) == 0
    out = capsys.readouterr().out
    assert "frames: 3" in out and "atoms per frame: 9" in out and "energy [meV]" in out


def test_missing_extra_names_it(monkeypatch):
    for name in ("tblite", "tblite.ase"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'regconv\[md17\]'"):
        gen.generate_frames("ethanol", frames=1)
    for name in ("rdkit", "rdkit.Chem"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'regconv\[md17\]'"):
        start_geometry("ethanol")
