"""Generated N-body splits (``regconv.data.nbody.files``): the checksummed cache, the command line,
summary statistics and the ``NBody`` data set, on tiny splits in a temporary cache."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

from regconv.data import nbody as nb


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("REGCONV_CACHE", str(tmp_path))
    for split, n in (("train", 6), ("val", 3), ("test", 2)):
        monkeypatch.setitem(nb.SPLIT_SIZES, split, n)  # the one dict every module reads
    return tmp_path / "nbody"


def test_cache_reuse_corruption_and_protocol_change(tiny, capsys, monkeypatch):
    path = nb.ensure_split("val")
    assert path == tiny / "val.npz"
    assert "generating" in capsys.readouterr().err
    meta = json.loads((tiny / "val.json").read_text())
    assert meta["protocol"]["seed"] == 2022 and meta["protocol"]["n_traj"] == 3
    assert meta["protocol"]["dt"] == 0.001 and meta["protocol"]["max_force"] == 100.0
    first = nb.load_split("val")
    assert first["loc"].shape == (3, 49, 5, 3) and first["charges"].shape == (3, 5)
    ref = nb.generate_split(3, 2022)
    assert all(np.array_equal(first[k], ref[k]) for k in ref)

    mtime = path.stat().st_mtime_ns
    nb.ensure_split("val")  # verifies, reuses
    assert capsys.readouterr().err == "" and path.stat().st_mtime_ns == mtime

    raw = bytearray(path.read_bytes())  # corrupt one byte in the middle
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    nb.ensure_split("val")
    assert "corrupt" in capsys.readouterr().err
    again = nb.load_split("val", verbose=False)
    assert all(np.array_equal(first[k], again[k]) for k in first)

    monkeypatch.setitem(nb.SPLIT_SEEDS, "val", 7)
    nb.ensure_split("val")
    assert "stale: the protocol changed" in capsys.readouterr().err
    assert not np.array_equal(nb.load_split("val")["loc"], first["loc"])


def test_generate_and_summary_cli(tiny, capsys):
    assert nb.main(["generate", "--split", "test"]) == 0
    out = capsys.readouterr()
    assert "test:" in out.out and (tiny / "test.json").exists()
    assert not (tiny / "train.npz").exists()
    assert nb.main(["summary", "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "|x|" in out and "clip_step" in out and "test" in out
    stats = nb.summary(splits=["test"])["test"]
    assert stats["n_traj"] == 2 and 0.0 <= stats["clip_step_fraction"] <= 1.0


def test_module_command_line_runs():
    cmd = [sys.executable, "-m", "regconv.data.nbody", "summary", "--help"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "--source" in out.stdout and "--split" in out.stdout


def test_dataset_items_and_loader(tiny):
    ds = nb.NBody("train", num_train=4)
    assert len(ds) == 4
    raw = nb.load_split("train", verbose=False)
    item = ds[1]
    assert not any("index" in key for key in item.keys())
    shapes = {"pos": (5, 3), "vec": (5, 1, 3), "x": (5, 1), "y": (5, 3), "charges": (5,)}
    for key, shape in shapes.items():
        assert item[key].shape == shape and item[key].dtype == torch.float32, key
    assert torch.equal(item.pos, torch.from_numpy(raw["loc"][1, 30]).float())
    assert torch.equal(item.vec[:, 0], torch.from_numpy(raw["vel"][1, 30]).float())
    assert torch.equal(item.y, torch.from_numpy(raw["loc"][1, 40]).float())
    assert torch.equal(item.x[:, 0], torch.from_numpy(raw["charges"][1]).float())

    batch = next(iter(DataLoader(ds, batch_size=3, shuffle=False)))
    assert batch.num_graphs == 3
    assert batch.pos.shape == (15, 3) and batch.vec.shape == (15, 1, 3)
    assert batch.x.shape == (15, 1) and batch.y.shape == (15, 3)
    assert torch.equal(batch.batch, torch.arange(3).repeat_interleave(5))

    assert len(nb.NBody("val")) == 3 and len(nb.NBody("train", num_train=None)) == 6
    with pytest.raises(ValueError, match="num_train"):
        nb.NBody("train", num_train=7)
    with pytest.raises(ValueError, match="frames"):
        nb.NBody("val", frame_out=49)
    with pytest.raises(ValueError, match="split must be one of 'train', 'val', 'test'"):
        nb.NBody("validation")
    with pytest.raises(ValueError, match="frame_in must be an integer >= 0"):
        nb.NBody("val", frame_in=-1)
    assert len(nb.NBody("train", num_train=np.int64(2), frame_in=np.int64(3))) == 2


def test_galilean_items_carry_relative_velocities_and_a_moving_reference(tiny):
    plain, gal = nb.NBody("train", num_train=4), nb.NBody("train", num_train=4, galilean=True)
    assert "galilean=True" in repr(gal) and not hasattr(plain[0], "base")
    for i in range(4):
        p, g = plain[i], gal[i]
        v_cm = p.vec[:, 0].double().mean(0)
        zero = torch.zeros(3, dtype=torch.float64)
        torch.testing.assert_close(g.vec[:, 0].double().sum(0), zero, atol=1e-6, rtol=0)
        torch.testing.assert_close(
            g.vec[:, 0].double(), p.vec[:, 0].double() - v_cm, atol=1e-6, rtol=0
        )
        torch.testing.assert_close(g.base.double(), p.pos.double() + 1.0 * v_cm, atol=1e-6, rtol=0)
        assert torch.equal(g.pos, p.pos) and torch.equal(g.y, p.y) and torch.equal(g.x, p.x)
    # the reference moves with the frames: T = (frame_out - frame_in) * 100 * 0.001
    far = nb.NBody("train", num_train=4, frame_in=10, frame_out=30, galilean=True)
    raw = nb.load_split("train", verbose=False)
    v_cm = raw["vel"][0, 10].mean(0)
    np.testing.assert_allclose(far[0].base.numpy(), raw["loc"][0, 10] + 2.0 * v_cm, atol=1e-6)
    batch = next(iter(DataLoader(gal, batch_size=2)))
    assert batch.base.shape == (10, 3)
    with pytest.raises(ValueError, match="galilean"):
        nb.NBody("train", num_train=4, galilean=1)


def test_published_source_is_cached_beside_ours(tiny, capsys):
    ours = nb.ensure_split("val")
    theirs = nb.ensure_split("val", source="published")
    assert theirs == tiny / "published-val.npz" and ours == tiny / "val.npz"
    meta = json.loads((tiny / "published-val.json").read_text())
    assert meta["protocol"]["source"] == "published" and meta["protocol"]["seed"] == 43
    capsys.readouterr()
    nb.ensure_split("val")  # both verify: neither rebuilds the other
    nb.ensure_split("val", source="published")
    assert capsys.readouterr().err == ""
    arr = nb.load_split("val", source="published", verbose=False)
    loc0, vel0, q = nb.sample_published_initial_conditions("val", 3)  # tiny: the first 3
    ref = nb.simulate_batch(loc0, vel0, q)
    np.testing.assert_array_equal(arr["loc"], ref[0])
    np.testing.assert_array_equal(arr["charges"], q)
    ds = nb.NBody("val", source="published")
    assert len(ds) == 3 and "source='published'" in repr(ds)
    assert torch.equal(ds[0].pos, torch.from_numpy(ref[0][0, 30]).float())
    assert nb.main(["summary", "--split", "val", "--source", "published"]) == 0
    assert "val" in capsys.readouterr().out
    with pytest.raises(ValueError, match="source"):
        nb.NBody("val", source="egnn")
    with pytest.raises(ValueError, match="source"):
        nb.ensure_split("val", source="nri")
