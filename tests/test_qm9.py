"""QM9 data layer: parsing, units, atomisation energies, splits, cache robustness, validation.

The full data set is loaded once per module (from the user cache; the first run of the suite
builds it in a few seconds). Cache-corruption and bad-source tests use a three-molecule CSV
written into ``tmp_path`` and a temporary cache folder.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import regconv.data.qm9 as qm9
from regconv.data import (
    QM9,
    QM9_TARGETS,
    check_split_record,
    load_qm9_tensors,
    molecule_from_arrays,
    qm9_split_indices,
    qm9_split_record,
)

HA = 27211.386246  # meV per Ha
REFS = qm9.ATOM_REFS_HA
ENERGY_COLUMNS = [
    "InternalEnergy_0K_au",
    "InternalEnergy_298K_au",
    "Enthalphy_298K_au",
    "GibbsFreeEnergy_298K_au",
]


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return load_qm9_tensors()


@pytest.fixture(scope="module")
def raw_rows():
    """Header and the first 3 rows (ids 1, 2, 3) of the real part-1 CSV, and its last row of
    part 3 (id 133885), as dicts."""
    src = qm9.qm9pack_data_dir()
    csv.field_size_limit(2**31 - 1)
    with open(src / "qm9_part1.csv", newline="") as fh:
        lines = [fh.readline() for _ in range(4)]
    rows = list(csv.DictReader(lines))
    with open(src / "qm9_part3.csv", "rb") as fh:
        fh.seek(-20000, 2)
        last_line = fh.read().decode().rstrip("\n").splitlines()[-1]
    last = next(csv.DictReader([lines[0], last_line]))
    return lines[0], lines[1:], rows, last


@pytest.fixture
def small_src(tmp_path, raw_rows):
    """A source folder with one CSV holding methane, ammonia and water."""
    header, lines, _, _ = raw_rows
    src = tmp_path / "src"
    src.mkdir()
    (src / "qm9_part1.csv").write_text(header + "".join(lines))
    return src


def _atomisation_meV(row: dict, col: int) -> float:
    """Float64 reference computation from a raw CSV row."""
    elements = [e.strip("'") for e in row["Elements"].strip("[]").split(",")]
    ref = sum(REFS[e][col] for e in elements)
    return (float(row[ENERGY_COLUMNS[col]]) - ref) * HA


# ------------------------------------------------------------------------------------------------
# content
# ------------------------------------------------------------------------------------------------


def test_targets_table():
    assert QM9_TARGETS == [
        ("mu", "D"),
        ("alpha", "bohr^3"),
        ("homo", "meV"),
        ("lumo", "meV"),
        ("gap", "meV"),
        ("r2", "bohr^2"),
        ("zpve", "meV"),
        ("u0", "meV"),
        ("u", "meV"),
        ("h", "meV"),
        ("g", "meV"),
        ("cv", "cal/mol K"),
    ]
    assert qm9.HARTREE_TO_MEV == HA


def test_count_ids_and_gaps(data):
    assert data.num_molecules == 130_831
    ids = data.idx.numpy()
    assert ids[0] == 1 and ids[-1] == 133_885
    assert np.all(np.diff(ids) > 0)  # sorted, unique
    assert 133_885 - len(ids) == 3_054
    assert len(set(range(1, 133_886)) - set(ids.tolist())) == 3_054
    assert data.num_atoms == int(data.ptr[-1]) == 2_359_210
    assert set(torch.unique(data.z).tolist()) == {1, 6, 7, 8, 9}
    assert torch.isfinite(data.pos).all() and torch.isfinite(data.y).all()


def test_first_molecules_match_csv(data, raw_rows):
    _, _, rows, _ = raw_rows
    expect_z = {1: [6, 1, 1, 1, 1], 2: [7, 1, 1, 1], 3: [8, 1, 1]}
    for m, row in enumerate(rows):
        qid = m + 1
        assert int(row["Index"]) == qid == int(data.idx[m])
        a, b = int(data.ptr[m]), int(data.ptr[m + 1])
        assert data.z[a:b].tolist() == expect_z[qid]
        pos = np.array(json.loads(row["XYZ_Ang"]), dtype=np.float64)
        np.testing.assert_array_equal(data.pos[a:b].numpy(), pos.astype(np.float32))
        y = data.y[m].numpy()
        f = {k: float(v) for k, v in row.items() if k.endswith(("_au", "debye", "bohr3", "bohr2"))}
        expect = [
            f["Dipole_debye"],
            f["Polarizability_bohr3"],
            f["HOMO_au"] * HA,
            f["LUMO_au"] * HA,
            f["HOMO_LUMO_gap_au"] * HA,
            f["R2_bohr2"],
            f["ZPVE_au"] * HA,
            *(_atomisation_meV(row, c) for c in range(4)),
            float(row["Heatcapacity_Cv_cal_mol_K"]),
        ]
        np.testing.assert_array_equal(y, np.array(expect, dtype=np.float64).astype(np.float32))


def test_methane_values(data):
    y = data.y[0].double()
    assert data.idx[0] == 1
    assert y[2].item() == pytest.approx(-0.3877 * HA, abs=2e-3)  # -10549.87 meV
    assert -10549.9 < y[2].item() < -10549.8
    u0 = (-40.47893 - (REFS["C"][0] + 4 * REFS["H"][0])) * HA  # atomisation: about -17172 meV
    assert y[7].item() == pytest.approx(u0, abs=2e-3)
    assert -17173 < y[7].item() < -17171
    assert y[0].item() == 0.0 and y[11].item() == pytest.approx(6.469)


def test_float64_discipline_u0(data, raw_rows):
    """U0/U/H/G are subtracted in float64, only the result is cast: y is exactly the float32
    rounding of the float64 value, while a float32 pipeline would be off by more than 0.01 meV."""
    _, _, _, last = raw_rows
    assert int(last["Index"]) == 133_885 and int(data.idx[-1]) == 133_885
    for c in range(4):
        exact = _atomisation_meV(last, c)
        assert data.y[-1, 7 + c].item() == float(np.float32(exact))
    elements = [e.strip("'") for e in last["Elements"].strip("[]").split(",")]
    total32 = np.float32(float(last["InternalEnergy_0K_au"])) * np.float32(HA)
    ref32 = np.float32(sum(REFS[e][0] for e in elements)) * np.float32(HA)
    naive = float(total32 - ref32)
    assert abs(naive - _atomisation_meV(last, 0)) > 0.01  # the discipline matters here
    raw32 = np.zeros((1, 12), dtype=np.float32)
    with pytest.raises(ValueError, match="float64"):
        qm9._targets_from_raw(raw32, np.array([1], dtype=np.uint8), np.array([0, 1]))


def test_summary_statistics(data):
    y = data.y.double()
    # published QM9 statistics, loosely
    assert y[:, 7].mean().item() == pytest.approx(-76116.0, abs=1.0)
    assert y[:, 4].mean().item() == pytest.approx(6858.5, abs=1.0)
    assert y[:, 0].mean().item() == pytest.approx(2.673, abs=1e-3)


# ------------------------------------------------------------------------------------------------
# splits
# ------------------------------------------------------------------------------------------------


PINNED = {
    # first positions, sha256[:16] of the int64 positions, per part
    "dimenet": {
        "train": ([112526, 100113, 55940, 12786, 34071], "f32a83bb33005217"),
        "val": ([90042, 89438, 45073, 44858, 79777], "6217deac52bc48b4"),
        "test": ([24143, 20981, 30492, 25993, 104089], "c1ad6c3aac4de86c"),
    },
    "cormorant": {
        "train": ([130195, 68784, 7957, 25911, 20168], "5347dea851fe63a5"),
        "val": ([68751, 123554, 28669, 72737, 11612], "4a6b6f2529e02c7c"),
        "test": ([115839, 90242, 66405, 71231, 103168], "6b2a97c86b37a248"),
    },
}
SIZES = {"dimenet": (110_000, 10_000, 10_831), "cormorant": (100_000, 17_748, 13_083)}
SEEDS = {"dimenet": 42, "cormorant": 0}


@pytest.mark.parametrize("scheme", ["dimenet", "cormorant"])
def test_splits(scheme):
    parts = qm9_split_indices(scheme)
    assert list(parts) == ["train", "val", "test"]
    assert tuple(len(parts[p]) for p in parts) == SIZES[scheme]
    allpos = np.concatenate(list(parts.values()))
    np.testing.assert_array_equal(np.sort(allpos), np.arange(130_831))  # disjoint + complete
    np.testing.assert_array_equal(allpos, np.random.RandomState(SEEDS[scheme]).permutation(130_831))
    for p, (first, digest) in PINNED[scheme].items():
        assert parts[p][:5].tolist() == first
        assert hashlib.sha256(parts[p].astype("<i8").tobytes()).hexdigest()[:16] == digest
    again = qm9_split_indices(scheme)
    for p in parts:
        np.testing.assert_array_equal(parts[p], again[p])
    sub = qm9_split_indices(scheme, subset=1000)
    for p in parts:
        np.testing.assert_array_equal(sub[p], parts[p][:1000])


def test_split_record_roundtrip(data):
    rec = qm9_split_record("dimenet", subset=500, data=data)
    rec = json.loads(json.dumps(rec))
    assert rec["sizes"] == {"train": 500, "val": 500, "test": 500}
    assert rec["first_ids"]["train"][0] == int(data.idx[112526])
    check_split_record(rec, data=data)
    full = json.loads(json.dumps(qm9_split_record("cormorant", include_ids=True, data=data)))
    assert len(full["ids"]["val"]) == 17_748
    check_split_record(full, data=data)
    bad = dict(rec, ids_sha256=dict(rec["ids_sha256"], test="0" * 64))
    with pytest.raises(ValueError, match="ids_sha256"):
        check_split_record(bad, data=data)


# ------------------------------------------------------------------------------------------------
# data set
# ------------------------------------------------------------------------------------------------


def test_dataset_items_and_loader(data):
    from torch_geometric.loader import DataLoader

    train = QM9("train")
    assert len(train) == 110_000 and train.data is data
    item = train[0]
    m = 112526
    assert set(item.keys()) == {"z", "pos", "y", "idx"}
    assert item.z.dtype == torch.long and item.pos.dtype == torch.float32
    assert item.y.shape == (1, 12) and item.y.dtype == torch.float32
    assert item.idx.tolist() == [int(data.idx[m])]
    assert torch.equal(item.y[0], data.y[m])
    # an item owns only its own atoms (cheap to save / send)
    assert item.pos.untyped_storage().nbytes() == item.num_nodes * 3 * 4
    assert train[-1].idx.item() == int(data.idx[qm9_split_indices("dimenet")["train"][-1]])
    with pytest.raises(IndexError):
        train[110_000]

    batch = next(iter(DataLoader(QM9("val", subset=8), batch_size=4, shuffle=False)))
    assert batch.num_graphs == 4 and batch.y.shape == (4, 12) and batch.idx.shape == (4,)
    ids = qm9_split_indices("dimenet")["val"][:4]
    assert batch.idx.tolist() == data.idx[torch.from_numpy(ids)].tolist()  # not shifted
    assert batch.pos.shape == (batch.z.shape[0], 3) and batch.batch.max().item() == 3

    allds = QM9("all", subset=3, targets=["homo", "u0"])
    assert len(allds) == 3 and allds.target_names == ["homo", "u0"]
    assert [allds[i].idx.item() for i in range(3)] == [1, 2, 3]
    assert torch.equal(allds[0].y, data.y[0:1, [2, 7]])
    assert len(QM9("test", scheme="cormorant")) == 13_083
    mean, std = QM9("train", subset=1000).target_mean_std()
    assert mean.shape == std.shape == (12,)


def test_dataset_bad_names():
    with pytest.raises(ValueError, match="train, val, test, all"):
        QM9("training")
    with pytest.raises(ValueError, match="dimenet, cormorant"):
        QM9("train", scheme="schnet")
    with pytest.raises(ValueError, match="dimenet, cormorant"):
        qm9_split_indices("random")
    with pytest.raises(ValueError, match="mu, alpha, homo"):
        QM9("train", targets=["U0"])
    with pytest.raises(ValueError, match="subset"):
        QM9("train", subset=0)


def test_missing_qm9pack(monkeypatch):
    monkeypatch.setattr(qm9, "_QM9PACK", "qm9pack_not_installed_here")
    with pytest.raises(ImportError, match=r"pip install qm9pack==1\.0\.3"):
        load_qm9_tensors()


def test_qm9pack_not_imported(data):
    assert "qm9pack" not in sys.modules  # located by find_spec, never executed


def test_package_import_is_lazy():
    code = "import sys, regconv.data; assert 'regconv.data.qm9' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_summary_command(data, capsys):
    from regconv.data.__main__ import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert "molecules: 130,831" in out and "3,054 gaps" in out
    assert "110,000 / 10,000 / 10,831" in out and "100,000 / 17,748 / 13,083" in out
    assert "u0" in out and "cal/mol K" in out and "load" in out


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


# ------------------------------------------------------------------------------------------------
# cache and source robustness (small synthetic source, temporary cache)
# ------------------------------------------------------------------------------------------------


def _load(src, cache):
    return load_qm9_tensors(src, cache, memo=False)


def test_small_source_and_cache(small_src, tmp_path, capsys, data):
    cache = tmp_path / "cache"
    d = _load(small_src, cache)
    assert d.built and d.num_molecules == 3 and d.idx.tolist() == [1, 2, 3]
    assert "parsing the QM9 CSVs" in capsys.readouterr().err
    assert torch.equal(d.z, data.z[:12]) and torch.equal(d.pos, data.pos[:12])
    assert torch.equal(d.ptr, data.ptr[:4]) and torch.equal(d.y, data.y[:3])
    files = list(cache.glob("qm9-*.pt"))
    assert len(files) == 1 and files[0].name == Path(d.cache_path).name
    d2 = _load(small_src, cache)
    assert not d2.built and capsys.readouterr().err == ""
    assert torch.equal(d2.y, d.y) and torch.equal(d2.pos, d.pos)
    ds = QM9("all", source_dir=small_src, cache_dir=cache)
    assert len(ds) == 3 and ds[2].z.tolist() == [8, 1, 1]
    with pytest.raises(ValueError, match="split='all'"):
        QM9("train", source_dir=small_src, cache_dir=cache)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip", "empty"])
def test_corrupt_cache_is_rebuilt(small_src, tmp_path, capsys, damage):
    cache = tmp_path / "cache"
    good = _load(small_src, cache)
    path = Path(good.cache_path)
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a torch file \x00\x01" * 100)
    elif damage == "flip":  # damage the payload in place (inside the pos tensor's bytes)
        needle = np.float32(good.pos[0, 1].item()).tobytes()
        at = blob.find(needle)
        assert at > 0
        path.write_bytes(blob[:at] + bytes(b ^ 0xFF for b in needle) + blob[at + 4 :])
    else:
        path.write_bytes(b"")
    capsys.readouterr()
    again = _load(small_src, cache)
    err = capsys.readouterr().err
    assert again.built and "corrupt" in err and "rebuilding" in err
    assert torch.equal(again.pos, good.pos) and torch.equal(again.y, good.y)
    assert not _load(small_src, cache).built  # the rebuilt cache is valid


def test_stale_cache_is_rebuilt(small_src, tmp_path, capsys):
    cache = tmp_path / "cache"
    old = _load(small_src, cache)
    f = small_src / "qm9_part1.csv"
    text = f.read_text()
    assert ",-0.2928,0.0687," in text  # water's HOMO, LUMO
    f.write_text(text.replace(",-0.2928,0.0687,", ",-0.2929,0.0687,"))
    capsys.readouterr()
    new = _load(small_src, cache)
    err = capsys.readouterr().err
    assert new.built and "changed" in err
    assert new.y[2, 2].item() == pytest.approx(-0.2929 * HA)
    assert old.y[2, 2].item() == pytest.approx(-0.2928 * HA)
    assert [p.name for p in cache.glob("qm9-*.pt")] == [Path(new.cache_path).name]


def test_cache_from_other_source_is_rejected(small_src, tmp_path, capsys):
    """A cache file whose recorded source fingerprint differs (e.g. copied by hand) is stale."""
    cache = tmp_path / "cache"
    d = _load(small_src, cache)
    obj = torch.load(d.cache_path, weights_only=True)
    obj["source_fingerprint"] = "0" * 64
    torch.save(obj, d.cache_path)
    capsys.readouterr()
    assert _load(small_src, cache).built
    assert "stale" in capsys.readouterr().err


def test_rows_are_sorted_by_id(small_src, tmp_path, raw_rows):
    header, lines, _, _ = raw_rows
    src = tmp_path / "shuffled"
    src.mkdir()
    (src / "qm9_part1.csv").write_text(header + lines[2] + lines[0])
    (src / "qm9_part2.csv").write_text(header + lines[1])
    d = _load(src, tmp_path / "cache")
    ref = _load(small_src, tmp_path / "cache")
    assert d.idx.tolist() == [1, 2, 3]
    for key in ("z", "pos", "ptr", "y"):
        assert torch.equal(getattr(d, key), getattr(ref, key)), key


def _edit_water(src: Path, old: str, new: str) -> None:
    f = src / "qm9_part1.csv"
    lines = f.read_text().splitlines(keepends=True)
    assert old in lines[3]
    lines[3] = lines[3].replace(old, new, 1)
    f.write_text("".join(lines))


@pytest.mark.parametrize(
    "old, new, match",
    [
        ("['O','H','H']", "['Cl','H','H']", r"id 3 .*unknown element 'Cl'.*H, C, N, O, F"),
        ("0.9775395708", "nan", r"id 3 .*non-finite coordinates"),
        ("0.9775395708", "inf", r"id 3 .*non-finite coordinates"),
        ("0.9775395708", "x1", r"id 3 .*malformed XYZ_Ang"),
        ("['O','H','H']", "['O','H']", r"id 3 .*N_atoms=3 but 2 element"),
        ('.xyz",3,', '.xyz",2,', "duplicate QM9 id 2"),  # water claims ammonia's id
        (",-0.2928,", ",nan,", r"id 3 .*non-finite HOMO_au"),
        (",-0.2928,", ",abc,", r"id 3 .*HOMO_au is not a number"),
    ],
)
def test_bad_source_names_the_molecule(small_src, tmp_path, old, new, match):
    _edit_water(small_src, old, new)
    with pytest.raises(ValueError, match=match):
        _load(small_src, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("qm9-*.pt"))  # nothing cached


def test_empty_source_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="qm9_part"):
        _load(tmp_path, tmp_path / "cache")
