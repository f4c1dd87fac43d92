"""Tests of the charged N-body simulator and data set (``regconv.data.nbody``)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch_geometric.loader import DataLoader

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


def test_initial_conditions_protocol():
    loc0, vel0, q = nb.sample_initial_conditions(50, 5)
    assert set(np.unique(q)) == {-1.0, 1.0}
    np.testing.assert_allclose(np.linalg.norm(vel0, axis=-1), 0.5, rtol=1e-14)
    again = nb.sample_initial_conditions(50, 5)
    assert all(np.array_equal(a, b) for a, b in zip((loc0, vel0, q), again, strict=True))
    rng = np.random.default_rng(5)  # documented draw order
    assert np.array_equal(q, 2.0 * rng.integers(0, 2, size=(50, 5)) - 1)
    assert np.array_equal(loc0, rng.standard_normal((50, 5, 3)))


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
        ((_L, _V, _Q), {"dt": 0.0}, "dt must be finite and > 0"),
        ((_L, _V, _Q), {"dt": -1e-3}, "dt must be finite and > 0"),
        ((_L, _V, _Q), {"dt": math.nan}, "dt must be finite and > 0"),
        ((_L, _V, _Q), {"steps": 100, "sample_every": 100}, "greater than sample_every"),
        ((_L, _V, _Q), {"steps": 1000.0}, "steps must be an integer"),
        ((_L, _V, _Q), {"sample_every": 0}, "sample_every must be >= 1"),
        ((_L, _V, _Q), {"max_force": 0.0}, "max_force must be > 0"),
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


# ---------------------------------------------------------------------------------------------
# (6) cache and (8) data set, on tiny splits in a temporary cache
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def tiny(monkeypatch, tmp_path):
    monkeypatch.setenv("REGCONV_CACHE", str(tmp_path))
    monkeypatch.setattr(nb, "SPLIT_SIZES", {"train": 6, "val": 3, "test": 2})
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
    assert "checksum mismatch" in capsys.readouterr().err
    again = nb.load_split("val", verbose=False)
    assert all(np.array_equal(first[k], again[k]) for k in first)

    monkeypatch.setattr(nb, "SPLIT_SEEDS", dict(nb.SPLIT_SEEDS, val=7))
    nb.ensure_split("val")
    assert "protocol parameters changed" in capsys.readouterr().err
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
    with pytest.raises(ValueError, match="split"):
        nb.NBody("validation")


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


def test_galilean_items_carry_relative_velocities_and_a_moving_reference(tiny):
    plain, gal = nb.NBody("train", num_train=4), nb.NBody("train", num_train=4, galilean=True)
    assert "galilean=True" in repr(gal) and not hasattr(plain[0], "base")
    for i in range(4):
        p, g = plain[i], gal[i]
        v_cm = p.vec[:, 0].double().mean(0)
        zero = torch.zeros(3, dtype=torch.float64)
        torch.testing.assert_close(g.vec[:, 0].double().sum(0), zero, atol=1e-6, rtol=0)
        torch.testing.assert_close(g.vec[:, 0].double(), p.vec[:, 0].double() - v_cm, atol=1e-6, rtol=0)
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


# ---------------------------------------------------------------------------------------------
# (9) the published data set's initial states
# ---------------------------------------------------------------------------------------------


def _published_first_trajectory():
    """The first training trajectory, drawn here call by call from the published generator's
    stream (seed 43; choice of charges, positions [3, 5], velocities [3, 5])."""
    rs = np.random.RandomState(43)
    q = rs.choice(np.array([-1.0, 0.0, 1.0]), size=(5, 1), p=[0.5, 0.0, 0.5])[:, 0]
    x = rs.randn(3, 5)
    v = rs.randn(3, 5)
    v = v * 0.5 / np.linalg.norm(v, axis=0)
    return x.T, v.T, q


def test_published_initial_states_follow_the_published_stream():
    loc0, vel0, q = nb.sample_published_initial_conditions("train", 2)
    assert loc0.shape == (2, 5, 3) and vel0.shape == (2, 5, 3) and q.shape == (2, 5)
    x, v, charges = _published_first_trajectory()
    np.testing.assert_array_equal(q[0], charges)
    np.testing.assert_allclose(loc0[0], x, rtol=0, atol=1e-15)
    np.testing.assert_allclose(vel0[0], v, rtol=0, atol=1e-15)
    # pinned values (the stream is frozen in NumPy: any change here is a change of data set)
    np.testing.assert_array_equal(q[0], [-1.0, 1.0, -1.0, -1.0, -1.0])
    np.testing.assert_allclose(
        loc0[0, 0], [0.406094210414111, 1.4914010444010783, -0.5188505063060542], atol=1e-15
    )
    # the second trajectory starts after the first one's discarded noise draws
    assert not np.allclose(loc0[1], loc0[0])
    assert np.allclose(np.linalg.norm(vel0, axis=-1), 0.5, atol=1e-15)
    assert set(np.unique(q)) <= {-1.0, 1.0}


def test_published_splits_continue_the_one_stream_and_are_prefix_consistent():
    test_all = nb.sample_published_initial_conditions("test")
    test_two = nb.sample_published_initial_conditions("test", 2)
    assert test_all[0].shape == (2000, 5, 3)
    for full, head in zip(test_all, test_two, strict=True):
        np.testing.assert_array_equal(full[:2], head)
    np.testing.assert_array_equal(test_two[2][0], [1.0, 1.0, -1.0, -1.0, 1.0])
    np.testing.assert_allclose(
        test_two[0][0, 0], [0.9836382618806896, 1.4708538889023985, 1.0787517921653302], atol=1e-15
    )
    frac_plus = (test_all[2] > 0).mean()
    assert 0.47 < frac_plus < 0.53  # fair charges
    with pytest.raises(ValueError, match="2000 trajectories"):
        nb.sample_published_initial_conditions("val", 2001)
    with pytest.raises(ValueError, match="split"):
        nb.sample_published_initial_conditions("valid")


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
