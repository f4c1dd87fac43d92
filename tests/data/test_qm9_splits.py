"""QM9 splits: pinned permutations of both schemes, subsets, and split records."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from regconv.data import check_split_record, qm9_split_indices, qm9_split_record

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


def test_bad_subset_names_the_argument():
    for bad in (0, -3, 2.5, "10", True):
        with pytest.raises(ValueError, match="subset must be an integer >= 1"):
            qm9_split_indices("dimenet", subset=bad)
    np.testing.assert_array_equal(
        qm9_split_indices("dimenet", subset=np.int64(3))["test"],
        qm9_split_indices("dimenet")["test"][:3],
    )


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
    with pytest.raises(ValueError, match="not a QM9 split record"):
        check_split_record({"dataset": "nbody"}, data=data)
