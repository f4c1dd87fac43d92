"""Charged N-body simulator and the charged N-body data set (5 particles in 3D).

Protocol (the published charged-particles benchmark, implemented exactly)
--------------------------------------------------------------------------

* ``n = 5`` particles in 3D, unit mass; charges ``q_i`` are ``+1`` or ``-1`` with equal
  probability. Interaction strength 1: the force on ``i`` from ``j`` is
  ``q_i q_j (x_i - x_j) / |x_i - x_j|^3`` (like charges repel). The total force on each particle
  then has each Cartesian component clipped to ``[-100, 100]``.
* Initial positions ``~ N(0, 1)`` per coordinate; initial velocities ``~ N(0, 1)`` per
  coordinate, then each particle's velocity rescaled to norm 0.5. No walls (open box).
* Time step ``dt = 0.001``. **Published scheme**: first a "half kick" ``v += dt F(x)`` -- a *full*
  ``dt`` times ``F``, as published, despite the name -- then for steps ``1 .. 4999``:
  ``x += dt v``; record ``(x, v)`` when the step is a multiple of 100; ``v += dt F(x)``.
  This is a kick-drift leapfrog in which the recorded ``v`` is the velocity *before* that step's
  kick (a half step behind ``x``). Recorded frames are the states after steps
  100, 200, ..., 4900: 49 frames, frame ``k`` = after step ``100 (k + 1)``. In general
  ``simulate`` returns ``(steps - 1) // sample_every`` frames.
* Coincident particles: a pair at distance 0 (``r^3 == 0`` in float64, which includes
  distances below ~1e-108 whose cube underflows) exerts **zero force**: the 0/0 is defined as 0,
  never NaN (this also removes the self-interaction ``i == j``). Pair
  coefficients ``|q_i q_j| / r^3`` are capped at 1e300 so that the force stays finite; any such
  pair force is far above the clip anyway.

Clipping breaks exact equivariance
----------------------------------
The clip acts per Cartesian component, so it is **not** rotation-equivariant: a rotated
configuration can clip a different component, and a clipped total force is no longer
antisymmetric, so momentum is not conserved either. The simulator is E(3)-equivariant (to
rounding, ~1e-13 measured) only on trajectories in which no clip happens. Translation and
particle-permutation equivariance hold with clipping too (up to rounding): the clip depends
neither on the origin nor on the order of the particles.

Data sets
---------
Drawn per split with ``numpy.random.default_rng(seed)``, for all trajectories of the split at
once, in this order: charges ``2 * rng.integers(0, 2, size=(T, 5)) - 1``; positions
``rng.standard_normal((T, 5, 3))``; velocities ``rng.standard_normal((T, 5, 3))`` (then rescaled
to norm 0.5 per particle). Because everything is drawn at once, a set of a different size is not
a prefix of the full set.

=========  ==============  =====  =================================================
split      trajectories    seed   used by default
=========  ==============  =====  =================================================
train      10,000          2021   the first 3,000 (``NBody(num_train=3000)``)
val        2,000           2022   all
test       2,000           2023   all
=========  ==============  =====  =================================================

The published data set's initial states (``source='published'``)
-----------------------------------------------------------------
The published benchmark files were made, as their generator script documents, by one run with
seed 43 (10,000 training, 2,000 validation and 2,000 test trajectories from a single legacy
NumPy stream). :func:`sample_published_initial_conditions` replays that stream draw by draw, so
every trajectory starts from the state the published one started from; our simulator then
integrates it. ``NBody``, ``NBodyDataModule``, ``generate``, ``summary`` and ``nbody_errors``
take ``source='published'`` (files ``published-{split}.npz`` beside ours). The published files
are not shipped with this package and were not compared with ours; they are not reproduced bit
for bit in any case: the dynamics are chaotic enough that rounding-level differences of the
integrator change frame 40 noticeably in ~5 % of the trajectories (see the function's
docstring); the distribution is the same. A check against a published figure: the
least-squares ``x + a v`` predictor (``a`` fitted on the first 3,000 training trajectories) has
test MSE 0.0836 on these states (standard error 0.0026; no ``a`` gets below 0.0835) against
0.0819 reported for the same "Linear" model in the EGNN paper, and 0.0914 on our own seeds'
test split.

``python -m regconv.data.nbody generate [--out DIR] [--force] [--source published]`` writes
``{split}.npz`` (or ``published-{split}.npz``: ``loc [T, 49, 5, 3]``, ``vel [T, 49, 5, 3]``
float64, ``charges [T, 5]`` float64, ``n_clipped [T]`` int64 = number of force evaluations of
that trajectory in which any component was clipped) and a sidecar ``{split}.json`` (sha256 of
the npz, protocol parameters, size and seed) to ``cache_dir()/nbody/``, atomically. Later
calls reuse a split whose checksum verifies and whose recorded protocol equals the current one;
otherwise the split is rebuilt (with a message).
``python -m regconv.data.nbody summary`` prints the statistics below.

Measured (numpy 2.4.6, one thread on the project's shared 2-core machine)
-----------------------------------------------------------------------
Generation of all three splits (14,000 trajectories x 5,000 steps, chunks of 1,024
trajectories): 11.5 s of simulation (train 8.5 s, val 1.6 s, test 1.6 s), ~14 s wall including
imports; a later call that only verifies the checksums takes ~3 s. Files: train 118 MB, val and
test 24 MB each. Summary statistics (``python -m regconv.data.nbody summary``)::

    split  T      |x|     |v|     disp30-40  dE_mean  dE_median  dE_unclip  clip_step  clip_traj
    train  10000  2.4265  0.8683  0.8154     0.716    1.555e-05  4.267e-06  0.0115     0.4859
    val    2000   2.4250  0.8669  0.8137     0.5947   7.637e-06  3.046e-06  0.0105     0.473
    test   2000   2.4308  0.8745  0.8236     0.7798   1.208e-05  2.043e-06  0.0143     0.4825

and for ``--source published``::

    split  T      |x|     |v|     disp30-40  dE_mean  dE_median  dE_unclip  clip_step  clip_traj
    train  10000  2.4301  0.8661  0.8133     0.7134   8.304e-06  3.374e-06  0.011      0.4782
    val    2000   2.3902  0.8579  0.7965     0.7256   1.327e-05  2.645e-06  0.0137     0.4815
    test   2000   2.4281  0.8679  0.8149     0.7118   5.327e-06  1.666e-06  0.012      0.466

where ``|x|`` / ``|v|`` are the mean norms over all frames, particles and trajectories;
``disp30-40`` is the mean ``|x(frame 40) - x(frame 30)|``; ``dE`` is the absolute energy drift
``|E(frame 48) - E(frame 0)|`` per trajectory (``E`` = kinetic + ``sum_{i<j} q_i q_j / r_ij``,
with the recorded velocity synchronised to the positions, ``v + dt/2 F(x)``): its mean, median
and mean over the trajectories without any clipping; ``clip_step`` is the fraction of force
evaluations (5,000 per trajectory) with any clipped component, ``clip_traj`` the fraction of
trajectories with at least one. Clipping happens in ~1 % of the steps but in about **half of
the trajectories** (close encounters of opposite charges); those trajectories do not conserve
energy (drift of order 1), the others do to ~1e-5 (relative drift 1e-7 .. 1e-5 of the
kinetic + sum 1/r scale in the tests; using the unsynchronised recorded velocity adds an O(dt)
oscillation of ~1e-3). Momentum is conserved to rounding on unclipped trajectories.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import numbers
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from regconv.utils.io import atomic_write_bytes, atomic_write_text, cache_dir

__all__ = [
    "DT",
    "MAX_FORCE",
    "N_FRAMES",
    "N_PARTICLES",
    "SAMPLE_EVERY",
    "PUBLISHED_SEED",
    "PUBLISHED_SIZES",
    "SOURCES",
    "SPLIT_SEEDS",
    "SPLIT_SIZES",
    "STEPS",
    "NBody",
    "energy",
    "ensure_split",
    "forces",
    "frame_time",
    "generate",
    "generate_split",
    "load_split",
    "protocol",
    "sample_initial_conditions",
    "sample_published_initial_conditions",
    "simulate",
    "simulate_batch",
    "summary",
]

# ----------------------------------------------------------------------------------------------
# Protocol constants
# ----------------------------------------------------------------------------------------------

N_PARTICLES = 5
DIM = 3
STEPS = 5000
SAMPLE_EVERY = 100
DT = 0.001
MAX_FORCE = 100.0
INTERACTION_STRENGTH = 1.0
LOC_STD = 1.0
VEL_NORM = 0.5
N_FRAMES = (STEPS - 1) // SAMPLE_EVERY  # 49
SCHEME = "kick(dt) then [drift(dt), record, kick(dt)] x (steps-1)"
FORMAT_VERSION = 1

SPLITS = ("train", "val", "test")
SPLIT_SIZES: dict[str, int] = {"train": 10_000, "val": 2_000, "test": 2_000}
SPLIT_SEEDS: dict[str, int] = {"train": 2021, "val": 2022, "test": 2023}

SOURCES = ("regconv", "published")
# The published generator's one legacy NumPy stream: seed, and the trajectories it draws per
# split, in this order (train, then val, then test)
PUBLISHED_SEED = 43
PUBLISHED_SIZES: dict[str, int] = {"train": 10_000, "val": 2_000, "test": 2_000}
_PUBLISHED_CHARGE_TYPES = np.array([-1.0, 0.0, 1.0])
_PUBLISHED_CHARGE_P = [0.5, 0.0, 0.5]

_COEF_CAP = 1e300  # |q_i q_j| / r^3 is capped here so that pair forces stay finite
_DEFAULT_CHUNK = 1024  # trajectories simulated together (keeps the work arrays in cache)

# ----------------------------------------------------------------------------------------------
# Validation helpers
# ----------------------------------------------------------------------------------------------


def frame_time(frame_in: int, frame_out: int) -> float:
    """Simulated time between two recorded frames: ``(frame_out - frame_in) * 100 * 0.001``."""
    return (frame_out - frame_in) * SAMPLE_EVERY * DT


def _as_float_array(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_params(steps, sample_every, dt, max_force) -> tuple[int, int, float, float]:
    sample_every = _check_int(sample_every, "sample_every", 1)
    steps = _check_int(steps, "steps", 1)
    if steps <= sample_every:
        raise ValueError(
            f"steps ({steps}) must be greater than sample_every ({sample_every}); "
            "otherwise no frame is recorded"
        )
    if isinstance(dt, bool) or not isinstance(dt, numbers.Real):
        raise ValueError(f"dt must be a real number, got {dt!r}")
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be finite and > 0, got {dt}")
    if isinstance(max_force, bool) or not isinstance(max_force, numbers.Real):
        raise ValueError(f"max_force must be a real number, got {max_force!r}")
    if math.isnan(max_force) or max_force <= 0:
        raise ValueError(f"max_force must be > 0 (inf disables clipping), got {max_force}")
    return steps, sample_every, float(dt), float(max_force)


def _check_state(loc, vel, charges, batched: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lead = "[T, n, 3]" if batched else "[n, 3]"
    qshape = "[T, n]" if batched else "[n]"
    loc = _as_float_array(loc, "loc0")
    vel = _as_float_array(vel, "vel0")
    charges = _as_float_array(charges, "charges")
    nd = 3 if batched else 2
    if loc.ndim != nd or loc.shape[-1] != DIM:
        raise ValueError(f"loc0 must have shape {lead}, got {tuple(loc.shape)}")
    if vel.shape != loc.shape:
        raise ValueError(
            f"vel0 must have the shape of loc0 {tuple(loc.shape)}, got {tuple(vel.shape)}"
        )
    if charges.shape != loc.shape[:-1]:
        raise ValueError(
            f"charges must have shape {qshape} = {tuple(loc.shape[:-1])}, "
            f"got {tuple(charges.shape)}"
        )
    if loc.shape[-2] < 2:
        raise ValueError(f"need at least 2 particles, got n = {loc.shape[-2]}")
    return loc, vel, charges


# ----------------------------------------------------------------------------------------------
# Core kernel, internal layout [3, n, t] (trajectories last, contiguous)
# ----------------------------------------------------------------------------------------------


def _force_cnt(x: np.ndarray, qq: np.ndarray) -> np.ndarray:
    """Unclipped total force ``[3, n, t]`` from positions ``x [3, n, t]``, ``qq [n, n, t]``.

    Only element-wise operations in a fixed order, so the result for one trajectory does not
    depend on which other trajectories share the batch (bitwise).
    """
    d = x[:, :, None, :] - x[:, None, :, :]  # [3, n, n, t]   x_i - x_j
    r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]  # [n, n, t]
    r3 = r2 * np.sqrt(r2)
    coef = np.divide(qq, r3, out=np.zeros_like(r3), where=r3 > 0)  # zero distance: zero force
    np.clip(coef, -_COEF_CAP, _COEF_CAP, out=coef)
    f = coef * d  # [3, n, n, t]  force on i from j
    total = f[:, :, 0].copy()
    for j in range(1, f.shape[2]):
        total += f[:, :, j]
    return total


def _clip_inplace(force: np.ndarray, max_force: float, counts: np.ndarray | None) -> None:
    if math.isinf(max_force):
        return
    if counts is not None:
        counts += np.abs(force).max(axis=(0, 1)) > max_force
    np.clip(force, -max_force, max_force, out=force)


def _simulate_chunk(
    x: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    steps: int,
    sample_every: int,
    dt: float,
    max_force: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the published scheme on ``x, v [3, n, t]`` (modified in place), ``q [n, t]``."""
    n, t = q.shape
    qq = INTERACTION_STRENGTH * (q[:, None, :] * q[None, :, :])  # [n, n, t]
    n_frames = (steps - 1) // sample_every
    rec_x = np.empty((n_frames, DIM, n, t))
    rec_v = np.empty((n_frames, DIM, n, t))
    counts = np.zeros(t, dtype=np.int64)
    force = _force_cnt(x, qq)
    _clip_inplace(force, max_force, counts)
    v += dt * force  # the published "half kick" (a full dt)
    k = 0
    for step in range(1, steps):
        x += dt * v
        if step % sample_every == 0:
            rec_x[k] = x
            rec_v[k] = v
            k += 1
        force = _force_cnt(x, qq)
        _clip_inplace(force, max_force, counts)
        v += dt * force
    return rec_x, rec_v, counts


# ----------------------------------------------------------------------------------------------
# Public simulator
# ----------------------------------------------------------------------------------------------


def simulate_batch(
    loc0,
    vel0,
    charges,
    steps: int = STEPS,
    sample_every: int = SAMPLE_EVERY,
    dt: float = DT,
    *,
    max_force: float = MAX_FORCE,
    chunk_size: int = _DEFAULT_CHUNK,
    return_clip_counts: bool = False,
):
    """Simulate ``T`` independent trajectories with the published scheme (see module docstring).

    Args:
        loc0: initial positions ``[T, n, 3]`` (before the half kick), ``n >= 2``.
        vel0: initial velocities ``[T, n, 3]``.
        charges: ``[T, n]`` finite real charges (the data set uses +-1).
        steps: number of steps including the initial kick (the loop runs ``1 .. steps-1``).
        sample_every: record after every step that is a multiple of this.
        dt: time step > 0.
        max_force: per-component clip of the total force (``inf`` disables clipping).
        chunk_size: trajectories integrated together; the result does not depend on it.
        return_clip_counts: also return ``[T]`` int64, the number of force evaluations (out of
            ``steps``) in which any component of any particle's force was clipped.

    Returns:
        ``(loc, vel)`` float64 arrays ``[T, (steps - 1) // sample_every, n, 3]``; ``vel`` is the
        velocity before the kick of the recorded step. With ``return_clip_counts`` a third
        array ``[T]``. Deterministic; trajectory ``k`` is bitwise independent of the others.
    """
    steps, sample_every, dt, max_force = _check_params(steps, sample_every, dt, max_force)
    chunk_size = _check_int(chunk_size, "chunk_size", 1)
    loc0, vel0, charges = _check_state(loc0, vel0, charges, batched=True)
    n_traj, n, _ = loc0.shape
    n_frames = (steps - 1) // sample_every
    loc = np.empty((n_traj, n_frames, n, DIM))
    vel = np.empty((n_traj, n_frames, n, DIM))
    counts = np.zeros(n_traj, dtype=np.int64)
    for start in range(0, n_traj, chunk_size):
        stop = min(start + chunk_size, n_traj)
        x = np.ascontiguousarray(loc0[start:stop].transpose(2, 1, 0))  # [3, n, t]
        v = np.ascontiguousarray(vel0[start:stop].transpose(2, 1, 0))
        q = np.ascontiguousarray(charges[start:stop].T)  # [n, t]
        rx, rv, c = _simulate_chunk(x, v, q, steps, sample_every, dt, max_force)
        loc[start:stop] = rx.transpose(3, 0, 2, 1)
        vel[start:stop] = rv.transpose(3, 0, 2, 1)
        counts[start:stop] = c
    if return_clip_counts:
        return loc, vel, counts
    return loc, vel


def simulate(
    loc0,
    vel0,
    charges,
    steps: int = STEPS,
    sample_every: int = SAMPLE_EVERY,
    dt: float = DT,
    *,
    max_force: float = MAX_FORCE,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate one trajectory: ``loc0 [n, 3]``, ``vel0 [n, 3]``, ``charges [n]`` (initial
    state, before the half kick) -> ``(loc, vel)`` float64 ``[(steps - 1) // sample_every, n, 3]``
    each (``[49, 5, 3]`` with the defaults). Equals ``simulate_batch`` on that trajectory
    exactly. See :func:`simulate_batch` for the arguments."""
    steps, sample_every, dt, max_force = _check_params(steps, sample_every, dt, max_force)
    loc0, vel0, charges = _check_state(loc0, vel0, charges, batched=False)
    loc, vel = simulate_batch(
        loc0[None], vel0[None], charges[None], steps, sample_every, dt, max_force=max_force
    )
    return loc[0], vel[0]


def forces(loc, charges, max_force: float = MAX_FORCE) -> np.ndarray:
    """Total (clipped) force ``[..., n, 3]`` on each particle, as used by the simulator.

    ``loc [..., n, 3]``, ``charges [..., n]``; ``max_force=inf`` gives the unclipped force.
    """
    loc = _as_float_array(loc, "loc")
    charges = _as_float_array(charges, "charges")
    if loc.ndim < 2 or loc.shape[-1] != DIM or charges.shape != loc.shape[:-1]:
        raise ValueError(
            f"need loc [..., n, 3] and charges [..., n], got {loc.shape} and {charges.shape}"
        )
    lead, n = loc.shape[:-2], loc.shape[-2]
    x = np.ascontiguousarray(loc.reshape(-1, n, DIM).transpose(2, 1, 0))
    q = charges.reshape(-1, n).T
    force = _force_cnt(x, INTERACTION_STRENGTH * (q[:, None, :] * q[None, :, :]))
    _, _, _, max_force = _check_params(2, 1, DT, max_force)
    _clip_inplace(force, max_force, None)
    return force.transpose(2, 1, 0).reshape(*lead, n, DIM)


def energy(loc, vel, charges) -> np.ndarray:
    """Total energy ``[...]``: ``sum_i |v_i|^2 / 2 + sum_{i<j} q_i q_j / |x_i - x_j|``.

    ``loc, vel [..., n, 3]``, ``charges [..., n]`` (unit masses, interaction strength 1).
    Coincident particles give an infinite potential.
    """
    loc = np.asarray(loc, dtype=np.float64)
    vel = np.asarray(vel, dtype=np.float64)
    charges = np.asarray(charges, dtype=np.float64)
    kinetic = 0.5 * (vel * vel).sum(axis=(-2, -1))
    i, j = np.triu_indices(loc.shape[-2], k=1)
    r = np.sqrt(((loc[..., i, :] - loc[..., j, :]) ** 2).sum(-1))
    with np.errstate(divide="ignore", invalid="ignore"):
        potential = (INTERACTION_STRENGTH * charges[..., i] * charges[..., j] / r).sum(-1)
    return kinetic + potential


# ----------------------------------------------------------------------------------------------
# Data set generation and cache
# ----------------------------------------------------------------------------------------------


def sample_initial_conditions(
    n_traj: int, seed: int, n_particles: int = N_PARTICLES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial ``(loc0 [T, n, 3], vel0 [T, n, 3], charges [T, n])`` of a split.

    ``rng = numpy.random.default_rng(seed)``; drawn for all trajectories at once, in order:
    charges ``2 * rng.integers(0, 2, (T, n)) - 1``, positions ``LOC_STD * rng.standard_normal``,
    velocities ``rng.standard_normal`` rescaled to norm ``VEL_NORM`` per particle.
    """
    n_traj = _check_int(n_traj, "n_traj", 0)
    n_particles = _check_int(n_particles, "n_particles", 2)
    rng = np.random.default_rng(seed)
    charges = (2 * rng.integers(0, 2, size=(n_traj, n_particles)) - 1).astype(np.float64)
    loc0 = LOC_STD * rng.standard_normal((n_traj, n_particles, DIM))
    vel0 = rng.standard_normal((n_traj, n_particles, DIM))
    vel0 *= VEL_NORM / np.linalg.norm(vel0, axis=-1, keepdims=True)
    return loc0, vel0, charges


def sample_published_initial_conditions(
    split: str, n_traj: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial ``(loc0 [T, 5, 3], vel0 [T, 5, 3], charges [T, 5])`` of the published data set.

    Follows the draws of the published generator (``generate_dataset.py --num-train 10000
    --seed 43``, the "small" charged set of the EGNN / SEGNN / PONITA / Clifford papers): one
    legacy stream ``numpy.random.RandomState(43)``; 10,000 training, then 2,000 validation, then
    2,000 test trajectories; per trajectory, in order: charges ``choice([-1, 0, 1], (5, 1),
    p=[1/2, 0, 1/2])``; positions ``standard_normal((3, 5))`` (``loc_std`` 1); velocities
    ``standard_normal((3, 5))`` rescaled to norm 0.5 per particle; then two
    ``standard_normal((49, 3, 5))`` draws (the published generator's observation noise, of
    variance 0, drawn and discarded so that the next trajectory starts where it did there). The
    ``[3, 5]`` arrays are transposed to our ``[5, 3]``. Returns the first ``n_traj`` trajectories
    of ``split`` (default: all of it), so that any smaller set is a prefix of the full one.

    The trajectories then come from our simulator, which agrees with the published one to
    rounding; a charged 5-body trajectory is chaotic enough that rounding alone changes frame 40
    by more than 1e-3 in ~5 % of trajectories (measured: a relative perturbation of 1e-15 of the
    initial positions), so the recorded frames of those trajectories are not the bits of the
    published files, although every trajectory starts from the same state.
    """
    _check_split(split)
    if n_traj is None:
        n_traj = PUBLISHED_SIZES[split]
    n_traj = _check_int(n_traj, "n_traj", 0)
    if n_traj > PUBLISHED_SIZES[split]:
        raise ValueError(
            f"the published '{split}' split has {PUBLISHED_SIZES[split]} trajectories, "
            f"asked for {n_traj}"
        )
    rs = np.random.RandomState(PUBLISHED_SEED)
    shape = (DIM, N_PARTICLES)
    noise_shape = (N_FRAMES, DIM, N_PARTICLES)

    def draw_one():
        q = rs.choice(_PUBLISHED_CHARGE_TYPES, size=(N_PARTICLES, 1), p=_PUBLISHED_CHARGE_P)
        x = LOC_STD * rs.standard_normal(shape)  # [3, 5]
        v = rs.standard_normal(shape)  # [3, 5]
        v = v * VEL_NORM / np.sqrt((v**2).sum(axis=0, keepdims=True))  # the published arithmetic
        rs.standard_normal(noise_shape)  # discarded observation noise (positions)
        rs.standard_normal(noise_shape)  # discarded observation noise (velocities)
        return x, v, q

    for _ in range(sum(PUBLISHED_SIZES[s] for s in SPLITS[: SPLITS.index(split)])):
        draw_one()  # the trajectories of the splits drawn before this one
    loc0 = np.empty((n_traj, N_PARTICLES, DIM))
    vel0 = np.empty((n_traj, N_PARTICLES, DIM))
    charges = np.empty((n_traj, N_PARTICLES))
    for t in range(n_traj):
        x, v, q = draw_one()
        loc0[t], vel0[t], charges[t] = x.T, v.T, q[:, 0]
    return loc0, vel0, charges


def generate_split(
    n_traj: int,
    seed: int | None = None,
    chunk_size: int = _DEFAULT_CHUNK,
    source: str = "regconv",
    split: str | None = None,
) -> dict:
    """Simulate ``n_traj`` trajectories with the full protocol: from ``seed``
    (``source='regconv'``, :func:`sample_initial_conditions`) or the first ``n_traj`` of the
    published ``split`` (``source='published'``, :func:`sample_published_initial_conditions`).

    Returns a dict with ``loc``, ``vel`` (``[T, 49, 5, 3]`` float64), ``charges`` (``[T, 5]``
    float64) and ``n_clipped`` (``[T]`` int64).
    """
    _check_source(source)
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
    _check_split(split)
    _check_source(source)
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


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")


def _file_stem(split: str, source: str) -> str:
    return split if source == "regconv" else f"{source}-{split}"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _root(root) -> Path:
    return Path(root) if root is not None else cache_dir() / "nbody"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _cache_problem(root: Path, split: str, source: str = "regconv") -> str | None:
    """Why the cached split cannot be used, or ``None`` if it verifies."""
    stem = _file_stem(split, source)
    npz, meta = root / f"{stem}.npz", root / f"{stem}.json"
    if not npz.exists() or not meta.exists():
        return "not cached"
    try:
        recorded = json.loads(meta.read_text())
    except (OSError, ValueError) as exc:
        return f"unreadable sidecar ({exc})"
    if not isinstance(recorded, dict) or recorded.get("protocol") != protocol(split, source):
        return "protocol parameters changed"
    if recorded.get("sha256") != _sha256_file(npz):
        return "checksum mismatch (corrupt file)"
    return None


def _log(msg: str, verbose: bool) -> None:
    if verbose:
        print(f"[regconv.nbody] {msg}", file=sys.stderr, flush=True)


def ensure_split(
    split: str, root=None, force: bool = False, verbose: bool = True, source: str = "regconv"
) -> Path:
    """Make sure ``{root}/{split}.npz`` (``source='published'``: ``published-{split}.npz``)
    holds the split; (re)generate it if it is missing, corrupt, from other protocol parameters,
    or ``force``. Returns the npz path."""
    _check_split(split)
    _check_source(source)
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
    split: str, root=None, verbose: bool = True, source: str = "regconv"
) -> dict[str, np.ndarray]:
    """The arrays of a split (generated on first use): ``loc``, ``vel``, ``charges``,
    ``n_clipped``."""
    path = ensure_split(split, root, verbose=verbose, source=source)
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def generate(
    out=None,
    force: bool = False,
    splits: Sequence[str] = SPLITS,
    verbose: bool = True,
    source: str = "regconv",
) -> dict[str, Path]:
    """Write (or verify) the given splits under ``out`` (default ``cache_dir()/nbody``)."""
    _check_source(source)
    return {s: ensure_split(s, out, force=force, verbose=verbose, source=source) for s in splits}


# ----------------------------------------------------------------------------------------------
# Summary statistics
# ----------------------------------------------------------------------------------------------


def _split_summary(arr: dict[str, np.ndarray], frame_in: int = 30, frame_out: int = 40) -> dict:
    loc, vel, q, counts = arr["loc"], arr["vel"], arr["charges"], arr["n_clipped"]
    e = []
    for k in (0, loc.shape[1] - 1):
        qk = np.broadcast_to(q, loc[:, k].shape[:-1])
        v_sync = vel[:, k] + 0.5 * DT * forces(loc[:, k], qk)
        e.append(energy(loc[:, k], v_sync, qk))
    drift = np.abs(e[1] - e[0])
    unclipped = counts == 0
    return {
        "n_traj": int(loc.shape[0]),
        "mean_abs_loc": float(np.linalg.norm(loc, axis=-1).mean()),
        "mean_abs_vel": float(np.linalg.norm(vel, axis=-1).mean()),
        "mean_disp_30_40": float(
            np.linalg.norm(loc[:, frame_out] - loc[:, frame_in], axis=-1).mean()
        ),
        "energy_drift_mean": float(drift.mean()),
        "energy_drift_median": float(np.median(drift)),
        "energy_drift_mean_unclipped": float(drift[unclipped].mean()) if unclipped.any() else 0.0,
        "clip_step_fraction": float(counts.sum() / (counts.size * STEPS)),
        "clip_traj_fraction": float((counts > 0).mean()),
    }


def summary(
    root=None, splits: Sequence[str] = SPLITS, verbose: bool = True, source: str = "regconv"
) -> dict[str, dict]:
    """Summary statistics per split (see the module docstring for the definitions)."""
    return {s: _split_summary(load_split(s, root, verbose=verbose, source=source)) for s in splits}


def _format_summary(stats: dict[str, dict]) -> str:
    cols = [
        ("T", "n_traj", "{:d}"),
        ("|x|", "mean_abs_loc", "{:.4f}"),
        ("|v|", "mean_abs_vel", "{:.4f}"),
        ("disp30-40", "mean_disp_30_40", "{:.4f}"),
        ("dE_mean", "energy_drift_mean", "{:.4g}"),
        ("dE_median", "energy_drift_median", "{:.4g}"),
        ("dE_unclip", "energy_drift_mean_unclipped", "{:.4g}"),
        ("clip_step", "clip_step_fraction", "{:.3g}"),
        ("clip_traj", "clip_traj_fraction", "{:.4g}"),
    ]
    rows = [["split"] + [c[0] for c in cols]]
    for split, s in stats.items():
        rows.append([split] + [fmt.format(s[key]) for _, key, fmt in cols])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


# ----------------------------------------------------------------------------------------------
# PyG data set
# ----------------------------------------------------------------------------------------------


class NBody(torch.utils.data.Dataset):
    """Charged N-body data set: predict positions at ``frame_out`` from the state at
    ``frame_in``.

    Each item is a ``torch_geometric.data.Data`` with ``pos [5, 3]`` (positions at
    ``frame_in``), ``vec [5, 1, 3]`` (velocities at ``frame_in``), ``x [5, 1]`` (charges),
    ``y [5, 3]`` (positions at ``frame_out``) and ``charges [5]``, all float32. Frames are
    indexed 0..48 (frame ``k`` = after step ``100 (k + 1)``). The split is generated into the
    cache on first use (with a message on stderr) and loaded, after checksum verification,
    otherwise.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``.
        num_train: for ``'train'``, use the first ``num_train`` trajectories (``None``: all).
        frame_in, frame_out: input and target frames.
        root: directory of the cached splits (default ``cache_dir()/nbody``).
        source: ``'regconv'`` (our seeds, the default) or ``'published'`` (the initial states of
            the published data set, :func:`sample_published_initial_conditions`).
        galilean: build in the Galilean invariance of the dynamics (equal masses, no walls, a
            force and a clip that depend on relative positions only: adding ``u`` to every
            velocity moves every later position by ``u t``). Items then carry the velocities
            relative to their centre-of-mass velocity ``v_cm`` (``vec = v - v_cm``) and a
            reference prediction ``base [5, 3] = pos + T v_cm`` with ``T`` the time between the
            frames (``(frame_out - frame_in) * 100 * 0.001``); a model predicts ``y - base``.
            Off by default (the published protocol gives the raw velocities).
    """

    def __init__(
        self,
        split: str = "train",
        num_train: int | None = 3000,
        frame_in: int = 30,
        frame_out: int = 40,
        root: str | Path | None = None,
        galilean: bool = False,
        source: str = "regconv",
    ) -> None:
        super().__init__()
        _check_split(split)
        _check_source(source)
        frame_in = _check_int(frame_in, "frame_in", 0)
        frame_out = _check_int(frame_out, "frame_out", 0)
        if frame_in >= N_FRAMES or frame_out >= N_FRAMES:
            raise ValueError(
                f"frames must be in [0, {N_FRAMES - 1}], got frame_in={frame_in}, "
                f"frame_out={frame_out}"
            )
        if num_train is not None:
            num_train = _check_int(num_train, "num_train", 1)
            if split == "train" and num_train > SPLIT_SIZES["train"]:
                raise ValueError(
                    f"num_train={num_train} exceeds the {SPLIT_SIZES['train']} training "
                    "trajectories"
                )
        if not isinstance(galilean, bool):
            raise ValueError(f"galilean must be a bool, got {galilean!r}")
        self.split, self.frame_in, self.frame_out = split, frame_in, frame_out
        self.galilean = galilean
        self.source = source
        path = ensure_split(split, root, source=source)
        with np.load(path) as f:
            loc, vel, charges = f["loc"], f["vel"], f["charges"]
        if split == "train" and num_train is not None:
            loc, vel, charges = loc[:num_train], vel[:num_train], charges[:num_train]
        self._pos = torch.from_numpy(loc[:, frame_in]).float()  # [T, 5, 3]
        v = vel[:, frame_in]  # [T, 5, 3] float64
        self._base = None
        if galilean:
            v_cm = v.mean(axis=1, keepdims=True)  # [T, 1, 3]
            v = v - v_cm
            base = loc[:, frame_in] + frame_time(frame_in, frame_out) * v_cm  # [T, 5, 3]
            self._base = torch.from_numpy(base).float()
        self._vec = torch.from_numpy(v).float().unsqueeze(2)  # [T, 5, 1, 3]
        self._y = torch.from_numpy(loc[:, frame_out]).float()  # [T, 5, 3]
        self._charges = torch.from_numpy(charges).float()  # [T, 5]

    def __len__(self) -> int:
        return self._pos.shape[0]

    def __getitem__(self, idx: int) -> Data:
        if not -len(self) <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} trajectories")
        q = self._charges[idx]
        data = Data(
            pos=self._pos[idx],
            vec=self._vec[idx],
            x=q.unsqueeze(-1),
            y=self._y[idx],
            charges=q,
        )
        if self._base is not None:
            data.base = self._base[idx]
        return data

    def __repr__(self) -> str:
        return (
            f"NBody(split={self.split!r}, n={len(self)}, frame_in={self.frame_in}, "
            f"frame_out={self.frame_out}{', galilean=True' if self.galilean else ''}"
            f"{', source=' + repr(self.source) if self.source != 'regconv' else ''})"
        )


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m regconv.data.nbody", description="Charged N-body data set."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write the splits to the cache (or verify them)")
    g.add_argument("--out", default=None, help="directory (default: cache_dir()/nbody)")
    g.add_argument("--force", action="store_true", help="rebuild even if the cache verifies")
    g.add_argument("--split", choices=SPLITS, action="append", help="only this split")
    g.add_argument("--source", choices=SOURCES, default="regconv", help="initial states")
    s = sub.add_parser("summary", help="print summary statistics (generates if needed)")
    s.add_argument("--out", default=None, help="directory (default: cache_dir()/nbody)")
    s.add_argument("--split", choices=SPLITS, action="append", help="only this split")
    s.add_argument("--source", choices=SOURCES, default="regconv", help="initial states")
    args = parser.parse_args(argv)
    splits = tuple(args.split) if args.split else SPLITS
    if args.command == "generate":
        t0 = time.perf_counter()
        paths = generate(args.out, force=args.force, splits=splits, source=args.source)
        for split, path in paths.items():
            print(f"{split}: {path}")
        print(f"done in {time.perf_counter() - t0:.1f} s")
    else:
        print(_format_summary(summary(args.out, splits, source=args.source)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
