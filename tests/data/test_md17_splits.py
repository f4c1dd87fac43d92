"""MD17 splits: PONITA's sizes on 120,000 / 100,000 / short index sets, the seeded random split,
the published rMD17 folds, and the JSON records (written atomically)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from regconv.data.md17.dataset import MD17
from regconv.data.md17.splits import (
    indices_sha256,
    ponita_split,
    random_split,
    save_split,
    split_indices,
    split_record,
)


def _check_partition(parts, num_frames):
    allidx = np.concatenate([parts["train"], parts["val"], parts["test"]])
    assert allidx.dtype == np.int64
    np.testing.assert_array_equal(np.sort(allidx), np.arange(num_frames))


def test_ponita_on_120000_frames():
    parts = split_indices("ponita", 120_000)
    assert {k: v.size for k, v in parts.items()} == {"train": 950, "val": 50, "test": 119_000}
    np.testing.assert_array_equal(parts["val"], np.arange(0, 100_000, 2_000))
    chosen = np.sort(np.concatenate([parts["train"], parts["val"]]))
    np.testing.assert_array_equal(chosen, np.arange(0, 100_000, 100))
    _check_partition(parts, 120_000)
    rec = split_record("ponita", 120_000)
    assert "PONITA's script keeps only those below 100000" in rec["note"]


def test_ponita_on_100000_frames_matches_the_published_procedure():
    # PONITA's recipe spelled out with lists: every 100th frame leaves the test list, every
    # 20th of those goes to validation
    test = list(range(100_000))
    train = test[::100]
    del test[::100]
    val = train[::20]
    del train[::20]
    parts = ponita_split(100_000)
    assert parts["train"].tolist() == train
    assert parts["val"].tolist() == val
    assert parts["test"].tolist() == test


def test_ponita_on_a_short_set_says_so():
    parts = split_indices("ponita", 5_000)
    assert {k: v.size for k, v in parts.items()} == {"train": 47, "val": 3, "test": 4_950}
    _check_partition(parts, 5_000)
    rec = split_record("ponita", 5_000)
    assert rec["sizes"] == {"train": 47, "val": 3, "test": 4_950}
    assert "only 5000 frames" in rec["note"]
    with pytest.raises(ValueError, match="leaves train empty"):
        split_indices("ponita", 100)


def test_random_split_is_seeded():
    a = random_split(3_000, seed=7)
    b = random_split(3_000, seed=7)
    c = random_split(3_000, seed=8)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["train"], c["train"])
    perm = np.random.RandomState(7).permutation(3_000)
    np.testing.assert_array_equal(np.concatenate([a["train"], a["val"], a["test"]]), perm)
    assert (a["train"].size, a["val"].size, a["test"].size) == (950, 50, 2_000)
    _check_partition(a, 3_000)
    with pytest.raises(ValueError, match="more than n_train"):
        random_split(1_000, seed=0)
    with pytest.raises(ValueError, match="seed"):
        random_split(3_000, seed=-1)


def test_records_and_save(tmp_path):
    rec = split_record("random", 3_000, seed=3)
    json.dumps(rec)  # JSON-able
    parts = random_split(3_000, seed=3)
    assert rec["scheme"] == "random" and rec["seed"] == 3
    assert rec["sizes"] == {"train": 950, "val": 50, "test": 2_000}
    assert rec["indices_sha256"]["val"] == indices_sha256(parts["val"])
    assert split_record("random", 3_000, seed=3) == rec
    assert split_record("random", 3_000, seed=4)["indices_sha256"] != rec["indices_sha256"]
    path = tmp_path / "runs" / "split.json"
    saved = save_split(path, "random", 3_000, seed=3)
    back = json.loads(path.read_text())
    assert back == saved and back["indices"]["val"] == parts["val"].tolist()
    assert sorted(p.name for p in path.parent.iterdir()) == ["split.json"]  # no temp files
    with pytest.raises(ValueError, match="unknown MD17 split scheme 'bogus'"):
        split_record("bogus", 3_000)


def test_published_folds_through_the_dataset(tmp_path):
    rng = np.random.default_rng(0)
    n = 3_000
    path = tmp_path / "rmd17_water.npz"
    np.savez(
        path,
        nuclear_charges=np.array([8, 1, 1]),
        coords=rng.normal(size=(n, 3, 3)),
        energies=rng.normal(size=n),
        forces=rng.normal(size=(n, 3, 3)),
    )
    order = rng.permutation(n)
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "index_train_02.csv").write_text("".join(f"{i}\n" for i in order[:1000]))
    (tmp_path / "splits" / "index_test_02.csv").write_text(
        "".join(f"{i}\n" for i in order[1000:2000])
    )
    train = MD17(path, split="train", scheme="rmd17", fold=2)
    val = MD17(path, split="val", scheme="rmd17", fold=2)
    test = MD17(path, split="test", scheme="rmd17", fold=2)
    assert (len(train), len(val), len(test)) == (950, 50, 1000)
    np.testing.assert_array_equal(val.indices, order[:1000:20])
    np.testing.assert_array_equal(test.indices, order[1000:2000])
    assert train.split_record["fold"] == 2 and train.split_record["sizes"]["test"] == 1000
    item = train[0]
    assert int(item.frame) == train.indices[0] and item.forces.shape == (3, 3)
    with pytest.raises(ValueError, match=r"rmd17_water\.npz.*split 1 is missing"):
        MD17(path, split="train", scheme="rmd17", fold=1)
    # the default scheme on the same file
    ponita = MD17(path, split="val")
    assert len(ponita) == 2 and ponita.split_record["scheme"] == "ponita"
    assert len(MD17(path, split="all")) == n
    with pytest.raises(ValueError, match="exactly one"):
        MD17()
    with pytest.raises(ValueError, match="exactly one"):
        MD17(path, molecule="ethanol")
    with pytest.raises(ValueError, match="unknown MD17 split 'dev'"):
        MD17(path, split="dev")
