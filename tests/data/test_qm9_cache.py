"""QM9 parsing and cache robustness on a three-molecule source: rebuilds of corrupt or stale
caches, id sorting, and errors that name the bad molecule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from regconv.data import QM9, load_qm9_tensors

HA = 27211.386246  # meV per Ha


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
