"""The published rMD17 split files: ``index_train_0K.csv`` / ``index_test_0K.csv`` (K = 1..5).

The rMD17 archive keeps them in ``rmd17/splits/`` beside ``rmd17/npz_data/``; we look next to the
data file, in a ``splits/`` folder next to it, and in ``../splits/``. One 0-based frame index per
line; 1,000 training and 1,000 test frames per fold.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["FOLDS", "available_folds", "find_split_files", "read_index_file", "split_dirs"]

FOLDS = (1, 2, 3, 4, 5)
"""The fold numbers of the published split files."""


def split_dirs(data_path: str | os.PathLike) -> list[Path]:
    """The folders searched for the split files of ``data_path``, in order."""
    parent = Path(data_path).resolve().parent
    return [parent, parent / "splits", parent.parent / "splits"]


def _names(fold: int) -> tuple[str, str]:
    return f"index_train_{fold:02d}.csv", f"index_test_{fold:02d}.csv"


def available_folds(data_path: str | os.PathLike) -> list[int]:
    """The folds whose train and test files both sit in one of :func:`split_dirs`."""
    out = []
    for fold in FOLDS:
        train, test = _names(fold)
        if any((d / train).is_file() and (d / test).is_file() for d in split_dirs(data_path)):
            out.append(fold)
    return out


def find_split_files(data_path: str | os.PathLike, fold: int) -> tuple[Path, Path]:
    """``(train file, test file)`` of ``fold`` for the rMD17 file ``data_path``.

    Raises:
        ValueError: a bad fold, or the files are not found (the message names the files and the
            folders searched).
    """
    if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)) or fold not in FOLDS:
        raise ValueError(f"rMD17 split fold must be one of {FOLDS}, got {fold!r}")
    train, test = _names(int(fold))
    for d in split_dirs(data_path):
        if (d / train).is_file() and (d / test).is_file():
            return d / train, d / test
    dirs = ", ".join(str(d) for d in split_dirs(data_path))
    raise ValueError(
        f"{data_path}: the published rMD17 split {fold} is missing: {train} and {test} not found "
        f"(together) in {dirs}"
    )


def read_index_file(path: str | os.PathLike, num_frames: int) -> np.ndarray:
    """The frame indices in ``path`` (one integer per line, blank lines skipped), checked to be
    distinct and in ``0..num_frames-1``.

    Shapes: -> ``[K]`` int64, in file order.

    Raises:
        ValueError: an unreadable, empty, non-integer, out-of-range or repeated entry (the message
            names the file and line).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read the split file ({e})") from e
    values: list[int] = []
    seen: dict[int, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip().strip(",")
        if not s:
            continue
        try:
            v = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                f = float("nan")
            if not np.isfinite(f) or f != round(f):
                raise ValueError(
                    f"{path} line {lineno}: expected one integer frame index, got {line!r}"
                ) from None
            v = int(f)
        if not 0 <= v < num_frames:
            raise ValueError(
                f"{path} line {lineno}: frame index {v} out of range for {num_frames} frames"
            )
        if v in seen:
            raise ValueError(f"{path} line {lineno}: frame index {v} repeats line {seen[v]}")
        seen[v] = lineno
        values.append(v)
    if not values:
        raise ValueError(f"{path}: the split file holds no frame indices")
    return np.asarray(values, dtype=np.int64)
