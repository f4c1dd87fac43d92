"""The charged N-body simulator (``regconv.data.nbody.physics``): shapes, a naive reference,
conservation laws, equivariance (and how clipping breaks it), bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from regconv.data import nbody as nb

# A seed whose trajectories are partly clipped and partly not (checked in the tests).
SEED = 11


def _orthogonal(seed: int, det: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.sign(np.linalg.det(q)) != det:
        q[:, 0] = -q[:, 0]
    return q


@pytest.fixture(scope="module")
def batch():
    """16 full-length trajectories from ``SEED`` with clip counts."""
    loc0, vel0, q = nb.sample_initial_conditions(16, SEED)
    loc, vel, counts = nb.simulate_batch(loc0, vel0, q, return_clip_counts=True)
    return loc0, vel0, q, loc, vel, counts


@pytest.fixture(scope="module")
def unclipped(batch):
    """Indices of trajectories of ``batch`` in which no force component was ever clipped."""
    idx = np.flatnonzero(batch[5] == 0)
    assert 4 <= idx.size < 16  # the seed has both kinds
    return idx[:4]


def _naive(loc0, vel0, q, steps, every, dt, fmax):
    """Deliberately naive pure-Python version of the published scheme."""
    n = len(q)
    x = [[float(c) for c in p] for p in loc0]
    v = [[float(c) for c in p] for p in vel0]

    def force(x):
        out = []
        for i in range(n):
            f = [0.0, 0.0, 0.0]
            for j in range(n):
                if i == j:
                    continue
                d = [x[i][c] - x[j][c] for c in range(3)]
                r = math.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)
                for c in range(3):
                    f[c] += q[i] * q[j] * d[c] / r**3
            out.append([min(max(fc, -fmax), fmax) for fc in f])
        return out

    f = force(x)
    v = [[v[i][c] + dt * f[i][c] for c in range(3)] for i in range(n)]
    rec_x, rec_v = [], []
    for step in range(1, steps):
        x = [[x[i][c] + dt * v[i][c] for c in range(3)] for i in range(n)]
        if step % every == 0:
            rec_x.append([p[:] for p in x])
            rec_v.append([p[:] for p in v])
        f = force(x)
        v = [[v[i][c] + dt * f[i][c] for c in range(3)] for i in range(n)]
    return np.array(rec_x), np.array(rec_v)


# ---------------------------------------------------------------------------------------------
# (1) shapes, dtypes, simulate == simulate_batch
# ---------------------------------------------------------------------------------------------


def test_simulate_shapes_and_dtypes(batch):
    loc0, vel0, q = batch[:3]
    loc, vel = nb.simulate(loc0[3], vel0[3], q[3])
    assert loc.shape == vel.shape == (49, 5, 3)
    assert loc.dtype == vel.dtype == np.float64
    # equals the batched run (16 trajectories together) bitwise
    assert np.array_equal(loc, batch[3][3]) and np.array_equal(vel, batch[4][3])
    # general n and frame count, chunking does not change anything
    l3, v3, q3 = nb.sample_initial_conditions(5, 3, n_particles=3)
    a = nb.simulate_batch(l3, v3, q3, steps=251, sample_every=50)
    b = nb.simulate_batch(l3, v3, q3, steps=251, sample_every=50, chunk_size=2)
    assert a[0].shape == (5, 5, 3, 3)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    l2, _ = nb.simulate(l3[0, :2], v3[0, :2], q3[0, :2], steps=250, sample_every=50)
    assert l2.shape == (4, 2, 3)
    # deterministic
    assert np.array_equal(nb.simulate(loc0[3], vel0[3], q[3])[0], loc)


# ---------------------------------------------------------------------------------------------
# (2) against a naive pure-Python implementation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("close_pair", [False, True], ids=["plain", "clipped"])
def test_matches_naive_loop(close_pair):
    loc0, vel0, q = nb.sample_initial_conditions(1, 4)
    loc0, vel0, q = loc0[0], vel0[0], q[0]
    if close_pair:  # an attracting pair at distance 0.05: forces far above the clip
        q[:2] = [1.0, -1.0]
        loc0[1] = loc0[0] + [0.05, 0.0, 0.0]
    loc, vel, counts = nb.simulate_batch(
        loc0[None], vel0[None], q[None], steps=301, sample_every=100, return_clip_counts=True
    )
    assert (counts[0] > 0) == close_pair
    ref_x, ref_v = _naive(loc0, vel0, q, 301, 100, 0.001, 100.0)
    assert ref_x.shape == (3, 5, 3)
    np.testing.assert_allclose(loc[0], ref_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(vel[0], ref_v, rtol=1e-12, atol=1e-12)


def test_coincident_particles_give_zero_force():
    loc = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    q = np.array([1.0, -1.0, 1.0])
    f = nb.forces(loc, q)
    assert np.all(np.isfinite(f))
    # particles 0 and 1 feel only particle 2
    np.testing.assert_allclose(f[0], [-1.0, 0.0, 0.0])
    np.testing.assert_allclose(f[1], [1.0, 0.0, 0.0])
    out = nb.simulate(loc, np.zeros((3, 3)), q, steps=201, sample_every=100)
    assert all(np.all(np.isfinite(a)) for a in out)


# ---------------------------------------------------------------------------------------------
# (3) energy and (5) momentum conservation on unclipped trajectories
# ---------------------------------------------------------------------------------------------


def _energies(loc, vel, q):
    """Energy at every frame ``[..., F]``, velocity synchronised to the positions."""
    qf = np.broadcast_to(q[..., None, :], loc.shape[:-1])
    v_sync = vel + 0.5 * nb.DT * nb.forces(loc, qf)
    return nb.energy(loc, v_sync, qf)


def test_energy_conserved_without_clipping(batch, unclipped):
    loc, vel, q = batch[3][unclipped], batch[4][unclipped], batch[2][unclipped]
    e = _energies(loc, vel, q)  # [4, 49]
    # scale that cannot vanish: kinetic energy plus |potential| pair terms at frame 0
    i, j = np.triu_indices(5, k=1)
    r = np.linalg.norm(loc[:, 0, i] - loc[:, 0, j], axis=-1)
    scale = 0.5 * (vel[:, 0] ** 2).sum((-2, -1)) + (1.0 / r).sum(-1)
    drift = np.abs(e - e[:, :1]).max(1) / scale
    # measured for these four trajectories: 7e-8 .. 1.1e-5 (close unclipped encounters dominate)
    assert np.all(drift < 1e-4), drift
    # while a clipped trajectory typically loses energy conservation
    clipped = np.flatnonzero(batch[5] > 0)
    ec = _energies(batch[3][clipped], batch[4][clipped], batch[2][clipped])
    assert np.abs(ec[:, -1] - ec[:, 0]).max() > 1e-2


def test_momentum_conserved_without_clipping(batch, unclipped):
    vel0, vel = batch[1][unclipped], batch[4][unclipped]
    p = vel.sum(-2)  # [4, 49, 3]
    np.testing.assert_allclose(p, np.broadcast_to(vel0.sum(-2)[:, None], p.shape), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# (4) equivariance of the simulator
# ---------------------------------------------------------------------------------------------


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("det", [1.0, -1.0], ids=["rotation", "reflection"])
def test_rotation_equivariance_without_clipping(batch, unclipped, det):
    loc0, vel0, q = batch[0][unclipped], batch[1][unclipped], batch[2][unclipped]
    rot = _orthogonal(int(det > 0), det)
    loc_r, vel_r, counts = nb.simulate_batch(loc0 @ rot.T, vel0 @ rot.T, q, return_clip_counts=True)
    assert np.all(counts == 0)
    assert _rel(loc_r, batch[3][unclipped] @ rot.T) < 1e-9
    assert _rel(vel_r, batch[4][unclipped] @ rot.T) < 1e-9


def test_clipping_breaks_rotation_equivariance():
    """The per-component clip is not rotation-equivariant; without the clip the same
    close-encounter state is."""
    loc0, vel0, q = nb.sample_initial_conditions(1, 4)
    q[0, :2] = [1.0, -1.0]
    loc0[0, 1] = loc0[0, 0] + [0.06, 0.0, 0.0]
    rot = _orthogonal(0, 1.0)
    kw = dict(steps=201, sample_every=100)
    for max_force, equivariant in ((100.0, False), (math.inf, True)):
        a = nb.simulate_batch(loc0, vel0, q, max_force=max_force, **kw)
        b = nb.simulate_batch(loc0 @ rot.T, vel0 @ rot.T, q, max_force=max_force, **kw)
        err = _rel(b[0], a[0] @ rot.T)
        assert (err < 1e-9) == equivariant, (max_force, err)


def test_translation_and_permutation(batch, unclipped):
    loc0, vel0, q = batch[0][unclipped], batch[1][unclipped], batch[2][unclipped]
    loc, vel = batch[3][unclipped], batch[4][unclipped]
    shift = np.array([0.7, -1.3, 2.1])
    loc_t, vel_t = nb.simulate_batch(loc0 + shift, vel0, q)
    assert _rel(loc_t, loc + shift) < 1e-9
    assert _rel(vel_t, vel) < 1e-9
    perm = np.array([3, 0, 4, 1, 2])
    loc_p, vel_p = nb.simulate_batch(loc0[:, perm], vel0[:, perm], q[:, perm])
    assert _rel(loc_p, loc[:, :, perm]) < 1e-9
    assert _rel(vel_p, vel[:, :, perm]) < 1e-9


def test_simulator_is_galilean_invariant(batch, unclipped):
    # Equal masses, forces and clip from relative positions only: adding u to every velocity
    # moves every later position by u t (frame k is at t = 0.1 (k + 1)).
    loc0, vel0, q = batch[0][unclipped], batch[1][unclipped], batch[2][unclipped]
    u = np.array([0.3, -0.2, 0.1])
    loc_b, vel_b = nb.simulate_batch(loc0, vel0 + u, q)
    t = 0.1 * (np.arange(49) + 1.0)
    shift = t[None, :, None, None] * u  # [1, 49, 1, 3]
    assert _rel(loc_b, batch[3][unclipped] + shift) < 1e-9
    assert _rel(vel_b, batch[4][unclipped] + u) < 1e-9


# ---------------------------------------------------------------------------------------------
# (7) bad inputs
# ---------------------------------------------------------------------------------------------

_L, _V, _Q = np.zeros((5, 3)) + np.arange(5)[:, None], np.zeros((5, 3)), np.ones(5)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((_L[:, :2], _V, _Q), {}, "loc0 must have shape"),
        ((_L, _V[:4], _Q), {}, "vel0 must have the shape"),
        ((_L, _V, _Q[:4]), {}, "charges must have shape"),
        ((_L[:1], _V[:1], _Q[:1]), {}, "at least 2 particles"),
        ((np.where(_L == 1, np.nan, _L), _V, _Q), {}, "loc0 contains non-finite"),
        ((_L, _V + np.inf, _Q), {}, "vel0 contains non-finite"),
        ((_L, _V, _Q * np.nan), {}, "charges contains non-finite"),
        ((_L.astype(str), _V, _Q), {}, "real numeric"),
        ((_L, _V, _Q), {"dt": 0.0}, "dt must be a finite number > 0"),
        ((_L, _V, _Q), {"dt": -1e-3}, "dt must be a finite number > 0"),
        ((_L, _V, _Q), {"dt": math.nan}, "dt must be a finite number > 0"),
        ((_L, _V, _Q), {"steps": 100, "sample_every": 100}, "greater than sample_every"),
        ((_L, _V, _Q), {"steps": 1000.0}, "steps must be an integer"),
        ((_L, _V, _Q), {"sample_every": 0}, "sample_every must be an integer >= 1"),
        ((_L, _V, _Q), {"max_force": 0.0}, "max_force must be > 0"),
        ((_L, _V, _Q), {"max_force": math.nan}, "max_force must be > 0"),
        ((_L, _V, _Q), {"max_force": "100"}, "max_force must be a real number"),
        ((_L, _V, _Q), {"dt": True}, "dt must be a finite number > 0"),
        ((_L, _V, _Q), {"steps": True}, "steps must be an integer"),
    ],
)
def test_bad_inputs(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        nb.simulate(*args, **kwargs)


def test_bad_batch_inputs():
    with pytest.raises(ValueError, match=r"\[T, n, 3\]"):
        nb.simulate_batch(_L, _V, _Q)
    with pytest.raises(ValueError, match="chunk_size"):
        nb.simulate_batch(_L[None], _V[None], _Q[None], chunk_size=0)


def test_numpy_scalars_are_accepted_like_python_numbers():
    kw = dict(steps=201, sample_every=100, dt=0.001, max_force=100.0)
    ref = nb.simulate(_L, _V, _Q, **kw)
    kw_np = dict(steps=np.int64(201), sample_every=np.int32(100), dt=np.float32(0.001))
    got = nb.simulate(_L, _V, _Q, max_force=np.float64(100.0), **kw_np)
    # dt as float32 is another number than 0.001: same shapes, nearly the same values
    assert got[0].shape == ref[0].shape == (2, 5, 3)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)
    unclipped = nb.simulate(_L, _V, _Q, steps=201, sample_every=100, max_force=math.inf)
    assert all(np.all(np.isfinite(a)) for a in unclipped)
