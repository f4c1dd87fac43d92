"""Fixtures of the data-layer tests: the full QM9 tensors, raw qm9pack CSV rows, a tiny source.

The full data set is loaded from the user cache (the first run of the suite builds it in a few
seconds; later loads in one process are memoised). Bad-source and cache tests use a
three-molecule CSV written into ``tmp_path`` and a temporary cache folder.
"""

from __future__ import annotations

import csv

import pytest

from regconv.data.qm9.cache import QM9Tensors, load_qm9_tensors
from regconv.data.qm9.source import qm9pack_data_dir


@pytest.fixture(scope="module")
def data() -> QM9Tensors:
    """All of QM9 (the default source, from the cache)."""
    return load_qm9_tensors()


@pytest.fixture(scope="module")
def raw_rows():
    """Header and the first 3 rows (ids 1, 2, 3) of the real part-1 CSV, and its last row of
    part 3 (id 133885), as dicts."""
    src = qm9pack_data_dir()
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
