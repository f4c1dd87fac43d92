"""The charged N-body simulator (the published charged-particles protocol, exactly): forces,
energy and the kick-drift leapfrog.

Protocol (the published charged-particles benchmark, implemented exactly)
--------------------------------------------------------------------------

* ``n = 5`` particles in 3D, unit mass; charges ``q_i`` are ``+1`` or ``-1`` with equal
  probability. Interaction strength 1: the force on ``i`` from ``j`` is
  ``q_i q_j (x_i - x_j) / |x_i - x_j|^3`` (like charges repel). The total force on each particle
  then has each Cartesian component clipped to ``[-100, 100]``.
* Initial positions ``~ N(0, 1)`` per coordinate; initial velocities ``~ N(0, 1)`` per
  coordinate, then each particle's velocity rescaled to norm 0.5. No walls (open box).
  (Drawn in :mod:`regconv.data.nbody.initial`.)
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
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from regconv.utils.checks import check_int, check_positive

__all__ = [
    "DEFAULT_CHUNK",
    "DIM",
    "DT",
    "INTERACTION_STRENGTH",
    "MAX_FORCE",
    "N_FRAMES",
    "N_PARTICLES",
    "SAMPLE_EVERY",
    "SCHEME",
    "STEPS",
    "as_float_array",
    "energy",
    "forces",
    "frame_time",
    "simulate",
    "simulate_batch",
]

N_PARTICLES = 5
DIM = 3
STEPS = 5000
SAMPLE_EVERY = 100
DT = 0.001
MAX_FORCE = 100.0
INTERACTION_STRENGTH = 1.0
N_FRAMES = (STEPS - 1) // SAMPLE_EVERY  # 49
SCHEME = "kick(dt) then [drift(dt), record, kick(dt)] x (steps-1)"

_COEF_CAP = 1e300  # |q_i q_j| / r^3 is capped here so that pair forces stay finite
DEFAULT_CHUNK = 1024  # trajectories simulated together (keeps the work arrays in cache)


def frame_time(frame_in: int, frame_out: int) -> float:
    """Simulated time between two recorded frames: ``(frame_out - frame_in) * 100 * 0.001``."""
    return (frame_out - frame_in) * SAMPLE_EVERY * DT


# ----------------------------------------------------------------------------------------------
# Validation
# ----------------------------------------------------------------------------------------------


def as_float_array(a: object, name: str) -> np.ndarray:
    """``a`` as a float64 array; ``ValueError`` naming ``name`` unless real and finite."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr


def _check_max_force(max_force: object) -> float:
    """A clip level > 0; ``inf`` (no clipping) is allowed, NaN is not."""
    if isinstance(max_force, bool) or not isinstance(max_force, numbers.Real):
        raise ValueError(f"max_force must be a real number, got {max_force!r}")
    if math.isnan(max_force) or max_force <= 0:
        raise ValueError(f"max_force must be > 0 (inf disables clipping), got {max_force}")
    return float(max_force)


def _check_params(
    steps: int, sample_every: int, dt: float, max_force: float
) -> tuple[int, int, float, float]:
    sample_every = check_int("sample_every", sample_every, 1)
    steps = check_int("steps", steps, 1)
    if steps <= sample_every:
        raise ValueError(
            f"steps ({steps}) must be greater than sample_every ({sample_every}); "
            "otherwise no frame is recorded"
        )
    dt = check_positive("dt", dt)
    return steps, sample_every, dt, _check_max_force(max_force)


def _check_state(
    loc: object, vel: object, charges: object, batched: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lead = "[T, n, 3]" if batched else "[n, 3]"
    qshape = "[T, n]" if batched else "[n]"
    loc = as_float_array(loc, "loc0")
    vel = as_float_array(vel, "vel0")
    charges = as_float_array(charges, "charges")
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
    total = f[:, :, 0].copy()  # [3, n, t]
    for j in range(1, f.shape[2]):
        total += f[:, :, j]
    return total


def _clip_inplace(force: np.ndarray, max_force: float, counts: np.ndarray | None) -> None:
    """Clip ``force [3, n, t]`` per component; add 1 to ``counts [t]`` where anything clipped."""
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
    loc0: np.ndarray,
    vel0: np.ndarray,
    charges: np.ndarray,
    steps: int = STEPS,
    sample_every: int = SAMPLE_EVERY,
    dt: float = DT,
    *,
    max_force: float = MAX_FORCE,
    chunk_size: int = DEFAULT_CHUNK,
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
    chunk_size = check_int("chunk_size", chunk_size, 1)
    loc0, vel0, charges = _check_state(loc0, vel0, charges, batched=True)
    n_traj, n, _ = loc0.shape
    n_frames = (steps - 1) // sample_every
    loc = np.empty((n_traj, n_frames, n, DIM))
    vel = np.empty((n_traj, n_frames, n, DIM))
    counts = np.zeros(n_traj, dtype=np.int64)
    for start in range(0, n_traj, chunk_size):
        stop = min(start + chunk_size, n_traj)
        x = np.ascontiguousarray(loc0[start:stop].transpose(2, 1, 0))  # [3, n, t]
        v = np.ascontiguousarray(vel0[start:stop].transpose(2, 1, 0))  # [3, n, t]
        q = np.ascontiguousarray(charges[start:stop].T)  # [n, t]
        rx, rv, c = _simulate_chunk(x, v, q, steps, sample_every, dt, max_force)
        loc[start:stop] = rx.transpose(3, 0, 2, 1)
        vel[start:stop] = rv.transpose(3, 0, 2, 1)
        counts[start:stop] = c
    if return_clip_counts:
        return loc, vel, counts
    return loc, vel


def simulate(
    loc0: np.ndarray,
    vel0: np.ndarray,
    charges: np.ndarray,
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


def forces(loc: np.ndarray, charges: np.ndarray, max_force: float = MAX_FORCE) -> np.ndarray:
    """Total (clipped) force ``[..., n, 3]`` on each particle, as used by the simulator.

    ``loc [..., n, 3]``, ``charges [..., n]``; ``max_force=inf`` gives the unclipped force.
    """
    loc = as_float_array(loc, "loc")
    charges = as_float_array(charges, "charges")
    if loc.ndim < 2 or loc.shape[-1] != DIM or charges.shape != loc.shape[:-1]:
        raise ValueError(
            f"need loc [..., n, 3] and charges [..., n], got {loc.shape} and {charges.shape}"
        )
    lead, n = loc.shape[:-2], loc.shape[-2]
    x = np.ascontiguousarray(loc.reshape(-1, n, DIM).transpose(2, 1, 0))  # [3, n, t]
    q = charges.reshape(-1, n).T  # [n, t]
    force = _force_cnt(x, INTERACTION_STRENGTH * (q[:, None, :] * q[None, :, :]))
    _clip_inplace(force, _check_max_force(max_force), None)
    return force.transpose(2, 1, 0).reshape(*lead, n, DIM)


def energy(loc: np.ndarray, vel: np.ndarray, charges: np.ndarray) -> np.ndarray:
    """Total energy ``[...]``: ``sum_i |v_i|^2 / 2 + sum_{i<j} q_i q_j / |x_i - x_j|``.

    ``loc, vel [..., n, 3]``, ``charges [..., n]`` (unit masses, interaction strength 1).
    Coincident particles give an infinite potential.
    """
    loc = np.asarray(loc, dtype=np.float64)
    vel = np.asarray(vel, dtype=np.float64)
    charges = np.asarray(charges, dtype=np.float64)
    kinetic = 0.5 * (vel * vel).sum(axis=(-2, -1))  # [...]
    i, j = np.triu_indices(loc.shape[-2], k=1)
    r = np.sqrt(((loc[..., i, :] - loc[..., j, :]) ** 2).sum(-1))  # [..., pairs]
    with np.errstate(divide="ignore", invalid="ignore"):
        potential = (INTERACTION_STRENGTH * charges[..., i] * charges[..., j] / r).sum(-1)
    return kinetic + potential
