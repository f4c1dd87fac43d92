"""Train / validation / test frame indices of MD17-class data: PONITA's, random, published rMD17.

Schemes (:func:`split_indices`):

- ``ponita``: of the first min(F, 100,000) frames every 100th (frames 0, 100, ...: 1,000 of
  100,000); of those every 20th (0, 2,000, 4,000, ...) is validation (50), the rest training
  (950); every other frame is test (F - 1,000). PONITA's script restricts the test set to the
  first 100,000 frames too; for rMD17 (100,000 frames) the two agree. Shorter sets use the same
  rule on what there is, and the record says so.
- ``random``: ``numpy.random.RandomState(seed).permutation(F)``; the first ``n_train`` (950)
  training, the next ``n_val`` (50) validation, the rest test.
- ``rmd17``: the published fold ``fold`` (1..5): its test file is the test set; of its training
  file every 20th entry (file positions 0, 20, ...) is validation (50), the rest training (950).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np

from regconv.data.md17.published import find_split_files, read_index_file
from regconv.utils.checks import check_int
from regconv.utils.io import atomic_write_text

__all__ = [
    "PARTS",
    "PONITA_EVERY",
    "PONITA_VAL_EVERY",
    "PONITA_WINDOW",
    "SCHEMES",
    "indices_sha256",
    "ponita_split",
    "published_split",
    "random_split",
    "save_split",
    "split_indices",
    "split_record",
]

SCHEMES = ("ponita", "random", "rmd17")
PARTS = ("train", "val", "test")
PONITA_WINDOW = 100_000
"""PONITA takes its training frames from the first 100,000 frames."""
PONITA_EVERY = 100
"""... every 100th of them ..."""
PONITA_VAL_EVERY = 20
"""... and every 20th of those is validation."""


def ponita_split(num_frames: int) -> dict[str, np.ndarray]:
    """PONITA's split of ``num_frames`` frames (see the module docstring).

    Shapes: -> ``{"train": [950], "val": [50], "test": [F - 1000]}`` int64 for F >= 100,000.
    """
    num_frames = check_int("num_frames", num_frames, 1)
    chosen = np.arange(0, min(num_frames, PONITA_WINDOW), PONITA_EVERY, dtype=np.int64)
    is_val = np.zeros(chosen.shape[0], dtype=bool)
    is_val[::PONITA_VAL_EVERY] = True
    test = np.ones(num_frames, dtype=bool)
    test[chosen] = False
    return {"train": chosen[~is_val], "val": chosen[is_val], "test": np.nonzero(test)[0]}


def random_split(
    num_frames: int, seed: int = 0, n_train: int = 950, n_val: int = 50
) -> dict[str, np.ndarray]:
    """``RandomState(seed).permutation(num_frames)`` cut into ``n_train`` / ``n_val`` / the rest.

    Shapes: -> ``{"train": [n_train], "val": [n_val], "test": [F - n_train - n_val]}`` int64.
    """
    num_frames = check_int("num_frames", num_frames, 1)
    seed = check_int("seed", seed, 0)
    n_train, n_val = check_int("n_train", n_train, 1), check_int("n_val", n_val, 1)
    if n_train + n_val >= num_frames:
        raise ValueError(
            f"the random split needs more than n_train + n_val = {n_train + n_val} frames (the "
            f"rest is the test set), got {num_frames}"
        )
    perm = np.random.RandomState(seed).permutation(num_frames).astype(np.int64)
    return {
        "train": perm[:n_train],
        "val": perm[n_train : n_train + n_val],
        "test": perm[n_train + n_val :],
    }


def published_split(
    source: str | os.PathLike, num_frames: int, fold: int = 1
) -> dict[str, np.ndarray]:
    """The published rMD17 fold ``fold`` of the data file ``source`` (see the module docstring).

    Raises:
        ValueError: the fold's files are missing, bad, or train and test overlap.
    """
    train_file, test_file = find_split_files(source, fold)
    train = read_index_file(train_file, num_frames)
    test = read_index_file(test_file, num_frames)
    common = np.intersect1d(train, test)
    if common.size:
        raise ValueError(
            f"{train_file} and {test_file} share {common.size} frames (first: {common[0]})"
        )
    is_val = np.zeros(train.shape[0], dtype=bool)
    is_val[::PONITA_VAL_EVERY] = True
    return {"train": train[~is_val], "val": train[is_val], "test": test}


def split_indices(
    scheme: str,
    num_frames: int,
    *,
    seed: int = 0,
    source: str | os.PathLike | None = None,
    fold: int = 1,
    n_train: int = 950,
    n_val: int = 50,
) -> dict[str, np.ndarray]:
    """Frame indices ``{"train", "val", "test"}`` (int64, disjoint) of ``scheme``.

    ``seed``, ``n_train`` and ``n_val`` are used by ``random``; ``source`` (the rMD17 data file)
    and ``fold`` by ``rmd17``.

    Raises:
        ValueError: an unknown scheme (the message lists them), a part that would be empty, or
            bad published files.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown MD17 split scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    if scheme == "ponita":
        parts = ponita_split(num_frames)
    elif scheme == "random":
        parts = random_split(num_frames, seed, n_train, n_val)
    else:
        if source is None:
            raise ValueError("the 'rmd17' split needs the source (the rMD17 .npz path)")
        parts = published_split(source, num_frames, fold)
    empty = [p for p in PARTS if parts[p].size == 0]
    if empty:
        raise ValueError(
            f"the {scheme!r} split of {num_frames} frames leaves {', '.join(empty)} empty"
        )
    return parts


def indices_sha256(indices: np.ndarray) -> str:
    """SHA-256 (hex) of frame indices as int64 little-endian bytes, in order."""
    return hashlib.sha256(np.ascontiguousarray(indices, dtype="<i8").tobytes()).hexdigest()


def _note(scheme: str, num_frames: int, fold: int) -> str:
    if scheme == "ponita":
        if num_frames < PONITA_WINDOW:
            return (
                f"only {num_frames} frames (< {PONITA_WINDOW}): PONITA's rule (every "
                f"{PONITA_EVERY}th frame, every {PONITA_VAL_EVERY}th of those validation) "
                "applied to what there is, so the sizes are not 950 / 50"
            )
        extra = (
            ""
            if num_frames == PONITA_WINDOW
            else (
                f"; test: all {num_frames - 1000} other frames (PONITA's script keeps only those "
                f"below {PONITA_WINDOW})"
            )
        )
        return "PONITA: every 100th of the first 100,000 frames, every 20th of those val" + extra
    if scheme == "random":
        return "numpy.random.RandomState(seed).permutation(num_frames)"
    return f"published rMD17 fold {fold:02d}; val = every 20th entry of index_train_{fold:02d}.csv"


def split_record(
    scheme: str,
    num_frames: int,
    *,
    seed: int = 0,
    source: str | os.PathLike | None = None,
    fold: int = 1,
    n_train: int = 950,
    n_val: int = 50,
    include_indices: bool = False,
) -> dict[str, Any]:
    """A JSON-able record of a split: ``{"scheme", "seed", "fold", "num_frames", "sizes",
    "indices_sha256": {part: ...}, "first": {part: first 5 indices}, "note"}``, plus
    ``"indices"`` with ``include_indices=True``. Arguments as :func:`split_indices`."""
    parts = split_indices(
        scheme, num_frames, seed=seed, source=source, fold=fold, n_train=n_train, n_val=n_val
    )
    rec: dict[str, Any] = {
        "dataset": "md17",
        "scheme": scheme,
        "seed": int(seed) if scheme == "random" else None,
        "fold": int(fold) if scheme == "rmd17" else None,
        "num_frames": int(num_frames),
        "sizes": {p: int(parts[p].size) for p in PARTS},
        "indices_sha256": {p: indices_sha256(parts[p]) for p in PARTS},
        "first": {p: [int(i) for i in parts[p][:5]] for p in PARTS},
        "note": _note(scheme, num_frames, fold),
    }
    if scheme == "random":
        rec["n_train"], rec["n_val"] = int(n_train), int(n_val)
    if source is not None:
        rec["source"] = str(source)
    if include_indices:
        rec["indices"] = {p: [int(i) for i in parts[p]] for p in PARTS}
    return rec


def save_split(
    path: str | os.PathLike,
    scheme: str,
    num_frames: int,
    *,
    seed: int = 0,
    source: str | os.PathLike | None = None,
    fold: int = 1,
    n_train: int = 950,
    n_val: int = 50,
    include_indices: bool = True,
) -> dict[str, Any]:
    """Write :func:`split_record` (with the indices by default) to ``path`` as JSON, atomically
    (``regconv.utils.io.atomic_write_text``); returns the record."""
    rec = split_record(
        scheme,
        num_frames,
        seed=seed,
        source=source,
        fold=fold,
        n_train=n_train,
        n_val=n_val,
        include_indices=include_indices,
    )
    atomic_write_text(path, json.dumps(rec, indent=1) + "\n")
    return rec
