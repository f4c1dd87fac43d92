"""Generating the N-body splits and caching them as checksummed ``.npz`` files with a sidecar.

``python -m regconv.data.nbody generate [--out DIR] [--force] [--source published]`` writes
``{split}.npz`` (or ``published-{split}.npz``: ``loc [T, 49, 5, 3]``, ``vel [T, 49, 5, 3]``
float64, ``charges [T, 5]`` float64, ``n_clipped [T]`` int64 = number of force evaluations of
that trajectory in which any component was clipped) and a sidecar ``{split}.json`` (sha256 of
the npz, protocol parameters, size and seed) to ``cache_dir()/nbody/``, atomically. Later
calls reuse a split whose checksum verifies and whose recorded protocol equals the current one;
otherwise the split is rebuilt (with a message).

Measured (numpy 2.4.6, one thread on the project's shared 2-core machine): generation of all
three splits (14,000 trajectories x 5,000 steps, chunks of 1,024 trajectories): 11.5 s of
simulation (train 8.5 s, val 1.6 s, test 1.6 s), ~14 s wall including imports; a later call
that only verifies the checksums takes ~3 s. Files: train 118 MB, val and test 24 MB each.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from regconv.data.nbody.initial import (
    LOC_STD,
    PUBLISHED_SEED,
    SPLIT_SEEDS,
    SPLIT_SIZES,
    SPLITS,
    VEL_NORM,
    check_source,
    check_split,
    sample_initial_conditions,
    sample_published_initial_conditions,
)
from regconv.data.nbody.physics import (
    DEFAULT_CHUNK,
    DIM,
    DT,
    INTERACTION_STRENGTH,
    MAX_FORCE,
    N_PARTICLES,
    SAMPLE_EVERY,
    SCHEME,
    STEPS,
    simulate_batch,
)
from regconv.utils.cache import cache_problem, say
from regconv.utils.io import atomic_write_bytes, atomic_write_text, cache_dir

__all__ = ["FORMAT_VERSION", "ensure_split", "generate", "generate_split", "load_split", "protocol"]

FORMAT_VERSION = 1


def generate_split(
    n_traj: int,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    source: str = "regconv",
    split: str | None = None,
) -> dict[str, np.ndarray]:
    """Simulate ``n_traj`` trajectories with the full protocol: from ``seed``
    (``source='regconv'``, :func:`sample_initial_conditions`) or the first ``n_traj`` of the
    published ``split`` (``source='published'``, :func:`sample_published_initial_conditions`).

    Returns a dict with ``loc``, ``vel`` (``[T, 49, 5, 3]`` float64), ``charges`` (``[T, 5]``
    float64) and ``n_clipped`` (``[T]`` int64).
    """
    check_source(source)
    if source == "published":
        if split is None:
            raise ValueError("source='published' needs the split")
        loc0, vel0, charges = sample_published_initial_conditions(split, n_traj)
    else:
        if seed is None:
            raise ValueError("source='regconv' needs the seed")
        loc0, vel0, charges = sample_initial_conditions(n_traj, seed)
    loc, vel, counts = simulate_batch(
        loc0, vel0, charges, chunk_size=chunk_size, return_clip_counts=True
    )
    return {"loc": loc, "vel": vel, "charges": charges, "n_clipped": counts}


def protocol(split: str, source: str = "regconv") -> dict:
    """The parameters recorded in a split's sidecar; a cached split is reused only if equal."""
    check_split(split)
    check_source(source)
    out = {
        "format_version": FORMAT_VERSION,
        "n_particles": N_PARTICLES,
        "dim": DIM,
        "steps": STEPS,
        "sample_every": SAMPLE_EVERY,
        "dt": DT,
        "max_force": MAX_FORCE,
        "interaction_strength": INTERACTION_STRENGTH,
        "loc_std": LOC_STD,
        "vel_norm": VEL_NORM,
        "scheme": SCHEME,
        "sampling": "default_rng(seed): charges, positions, velocities; all trajectories at once",
        "split": split,
        "n_traj": int(SPLIT_SIZES[split]),
        "seed": int(SPLIT_SEEDS[split]),
    }
    if source == "published":
        out.update(
            source="published",
            sampling=(
                "published: RandomState(43); train 10000, val 2000, test 2000 in this order; "
                "per trajectory choice([-1,0,1],(5,1),p=[.5,0,.5]), standard_normal((3,5)) "
                "positions, standard_normal((3,5)) velocities, 2 x standard_normal((49,3,5)) "
                "discarded; first n_traj of the split"
            ),
            seed=PUBLISHED_SEED,
        )
    return out


def _file_stem(split: str, source: str) -> str:
    return split if source == "regconv" else f"{source}-{split}"


def _root(root: str | os.PathLike | None) -> Path:
    return Path(root) if root is not None else cache_dir() / "nbody"


def _cache_problem(root: Path, split: str, source: str = "regconv") -> str | None:
    """Why the cached split cannot be used, or ``None`` if it verifies."""
    stem = _file_stem(split, source)
    npz, sidecar = root / f"{stem}.npz", root / f"{stem}.json"
    return cache_problem(npz, sidecar, protocol(split, source), "sha256")


def _log(msg: str, verbose: bool) -> None:
    say("regconv.nbody", msg, verbose)


def ensure_split(
    split: str,
    root: str | os.PathLike | None = None,
    force: bool = False,
    verbose: bool = True,
    source: str = "regconv",
) -> Path:
    """Make sure ``{root}/{split}.npz`` (``source='published'``: ``published-{split}.npz``)
    holds the split; (re)generate it if it is missing, corrupt, from other protocol parameters,
    or ``force``. Returns the npz path."""
    check_split(split)
    check_source(source)
    root = _root(root)
    problem = "forced rebuild" if force else _cache_problem(root, split, source)
    stem = _file_stem(split, source)
    npz = root / f"{stem}.npz"
    if problem is None:
        return npz
    n_traj = SPLIT_SIZES[split]
    seed = SPLIT_SEEDS[split] if source == "regconv" else PUBLISHED_SEED
    _log(
        f"{problem}: generating N-body split '{split}' ({n_traj} trajectories, source "
        f"{source}, seed {seed}) in {root}",
        verbose,
    )
    t0 = time.perf_counter()
    arrays = generate_split(n_traj, seed, source=source, split=split)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    atomic_write_bytes(npz, data)
    meta = {
        "protocol": protocol(split, source),
        "file": npz.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "generation_seconds": round(time.perf_counter() - t0, 3),
        "numpy": np.__version__,
    }
    atomic_write_text(root / f"{stem}.json", json.dumps(meta, indent=2) + "\n")
    _log(f"wrote {npz} in {time.perf_counter() - t0:.1f} s", verbose)
    return npz


def load_split(
    split: str,
    root: str | os.PathLike | None = None,
    verbose: bool = True,
    source: str = "regconv",
) -> dict[str, np.ndarray]:
    """The arrays of a split (generated on first use): ``loc``, ``vel``, ``charges``,
    ``n_clipped``."""
    path = ensure_split(split, root, verbose=verbose, source=source)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def generate(
    out: str | os.PathLike | None = None,
    force: bool = False,
    splits: Sequence[str] = SPLITS,
    verbose: bool = True,
    source: str = "regconv",
) -> dict[str, Path]:
    """Write (or verify) the given splits under ``out`` (default ``cache_dir()/nbody``)."""
    check_source(source)
    return {s: ensure_split(s, out, force=force, verbose=verbose, source=source) for s in splits}
