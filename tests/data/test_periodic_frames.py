"""Periodic energy + force + stress frames: the generated copper set (cached with a checksum),
extended XYZ ``Lattice`` / ``pbc`` / ``stress`` / ``virial``, ASE databases, batching, and bad
input named by file and frame."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from ase import Atoms
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from regconv.data.crystals import copper_cell, ensure_copper
from regconv.data.md17 import read_frames


@pytest.fixture(scope="module")
def copper(tmp_path_factory):
    root = tmp_path_factory.mktemp("crystals")
    return ensure_copper(0, frames=2, every=3, equilibration=4, root=root, verbose=False)


def test_the_generated_copper_set_holds_emt_labels(copper):
    frames = read_frames(copper)
    assert frames.num_frames == 18 and frames.periodic and frames.pbc.all()
    assert set(frames.natoms.tolist()) == {31, 32}  # the vacancy segment has 31 atoms
    # relabel frame 5 with EMT: the file holds EMT's energy (meV), forces (meV/Å), stress (meV/Å³)
    # (at positions written to 1e-8 Å, extended XYZ's precision)
    arrays = frames.frame_arrays(5)
    atoms = Atoms(numbers=arrays["z"], positions=arrays["pos"], cell=arrays["cell"], pbc=True)
    atoms.calc = EMT()
    assert arrays["energy"] == pytest.approx(1000 * atoms.get_potential_energy(), abs=1e-3)
    np.testing.assert_allclose(arrays["forces"], 1000 * atoms.get_forces(), atol=1e-3)
    np.testing.assert_allclose(arrays["stress"], 1000 * atoms.get_stress(voigt=False), atol=1e-5)
    # the NPT segments move the cell; the NVT ones keep the start's
    volumes = np.abs(np.linalg.det(frames.cell))
    assert volumes.max() - volumes.min() > 1e-3


def test_the_copper_cache_verifies_and_rebuilds_when_corrupt(copper):
    sidecar = json.loads(copper.with_suffix(".json").read_text())
    assert sidecar["protocol"]["potential"] == "ase.calculators.emt.EMT"
    before = copper.stat().st_mtime_ns
    again = ensure_copper(0, frames=2, every=3, equilibration=4, root=copper.parent, verbose=False)
    assert again == copper and copper.stat().st_mtime_ns == before  # reused, not rebuilt
    text = copper.read_text()
    copper.write_text(text.replace("Cu", "Cu", 1) + " ")
    ensure_copper(0, frames=2, every=3, equilibration=4, root=copper.parent, verbose=False)
    assert copper.read_text() == text  # the corrupt file was rebuilt, bit for bit


def test_batches_stack_cells_pbc_and_stress(copper):
    frames = read_frames(copper)
    batch = Batch.from_data_list([frames[0], frames[17]])
    assert batch.cell.shape == (2, 3, 3) and batch.pbc.shape == (2, 3)
    assert batch.stress.shape == (2, 3, 3) and batch.pbc.dtype == torch.bool
    assert torch.allclose(batch.cell[1].double(), torch.from_numpy(frames.cell[17]), atol=1e-5)


def _crystal(stress=True, **info):
    atoms = copper_cell()
    atoms.rattle(0.05, seed=1)
    atoms.calc = EMT()
    results = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces()}
    if stress:
        results["stress"] = atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, **results)
    atoms.info.update(info)
    return atoms


def test_virial_and_voigt_stress_in_extended_xyz(tmp_path):
    atoms = _crystal()
    reference = atoms.get_stress(voigt=False)
    volume = atoms.get_volume()
    # a file that carries the virial (eV) instead, as some data sets do
    plain = _crystal(stress=False, virial=" ".join(map(str, (-reference * volume).ravel())))
    path = tmp_path / "virial.xyz"
    write(path, [plain], format="extxyz")
    frames = read_frames(path)
    np.testing.assert_allclose(frames.stress[0], 1000 * reference, rtol=1e-9, atol=1e-12)
    voigt = _crystal(stress=False, my_stress=" ".join(map(str, atoms.get_stress())))
    path = tmp_path / "voigt.xyz"
    write(path, [voigt], format="extxyz")
    frames = read_frames(path, stress_key="my_stress")
    np.testing.assert_allclose(frames.stress[0], 1000 * reference, rtol=1e-9, atol=1e-12)


def test_periodic_rows_of_an_ase_database(tmp_path):
    from ase.db import connect

    atoms = _crystal()
    path = tmp_path / "cu.db"
    with connect(str(path)) as db:
        db.write(atoms)
    frames = read_frames(path)
    np.testing.assert_allclose(frames.cell[0], atoms.cell.array)
    np.testing.assert_allclose(frames.stress[0], 1000 * atoms.get_stress(voigt=False), atol=1e-9)


def _edit_comment(path, old, new, frame=1):
    lines = path.read_text().splitlines()
    starts = [0]
    while len(starts) <= frame:
        starts.append(starts[-1] + int(lines[starts[-1]]) + 2)
    line = starts[frame] + 1
    assert old in lines[line]
    lines[line] = lines[line].replace(old, new)
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('Lattice="7.2', 'Lattice="-7.2', "left-handed"),
        ('0.0 0.0 7.2"', '7.2 0.0 0.0"', "singular"),
        ('Lattice="7.2', 'Lattice="nan', "not finite"),
        ('pbc="T T T"', 'pbc="T F T"', "not periodic along all axes"),
        ('Lattice="7.2 0.0 0.0 0.0 7.2 0.0 0.0 0.0 7.2" ', "", "pbc is set but the frame has no"),
    ],
)
def test_bad_cells_and_stress_name_the_file_and_frame(tmp_path, old, new, message):
    path = tmp_path / "bad.xyz"
    write(path, [_crystal(), _crystal()], format="extxyz")
    text = path.read_text()
    _edit_comment(path, old, new)
    with pytest.raises(ValueError, match=message) as info:
        read_frames(path)
    assert str(path) in str(info.value) and "frame 1" in str(info.value)
    path.write_text(text)
    assert read_frames(path).num_frames == 2  # the unedited file reads


def test_non_finite_stress_is_named(tmp_path):
    path = tmp_path / "nan.xyz"
    write(path, [_crystal()], format="extxyz")
    lines = path.read_text().splitlines()
    lines[1] = re.sub(r'stress="[^ ]+', 'stress="nan', lines[1])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="frame 0: stress is not finite"):
        read_frames(path)


def test_stress_on_some_frames_only_is_no_stress_target(tmp_path):
    from regconv.training import MD17DataModule

    path = tmp_path / "partial.xyz"
    labelled = _crystal()  # 1,001 copies: the random split needs more than 1,000 frames
    write(path, [labelled] * 2 + [_crystal(stress=False)] + [labelled] * 998, format="extxyz")
    frames = read_frames(path)
    assert frames.stress is None and frames.metadata["stress_missing_frame"] == 2
    assert frames.periodic  # energies and forces of the cells still read
    dm = MD17DataModule(path=str(path), stress=True, scheme="random")
    with pytest.raises(ValueError, match="frame 2 carries no stress"):
        dm.dataset("train")
