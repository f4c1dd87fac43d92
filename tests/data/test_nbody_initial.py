"""Initial states of the N-body splits (``regconv.data.nbody.initial``): our seeds' documented
draw order, and the published data set's one stream replayed draw by draw."""

from __future__ import annotations

import numpy as np
import pytest

from regconv.data import nbody as nb


def test_initial_conditions_protocol():
    loc0, vel0, q = nb.sample_initial_conditions(50, 5)
    assert set(np.unique(q)) == {-1.0, 1.0}
    np.testing.assert_allclose(np.linalg.norm(vel0, axis=-1), 0.5, rtol=1e-14)
    again = nb.sample_initial_conditions(50, 5)
    assert all(np.array_equal(a, b) for a, b in zip((loc0, vel0, q), again, strict=True))
    rng = np.random.default_rng(5)  # documented draw order
    assert np.array_equal(q, 2.0 * rng.integers(0, 2, size=(50, 5)) - 1)
    assert np.array_equal(loc0, rng.standard_normal((50, 5, 3)))


def test_initial_conditions_bad_arguments():
    with pytest.raises(ValueError, match="n_particles must be an integer >= 2"):
        nb.sample_initial_conditions(3, 0, n_particles=1)
    with pytest.raises(ValueError, match="n_traj must be an integer >= 0"):
        nb.sample_initial_conditions(-1, 0)
    empty = nb.sample_initial_conditions(np.int64(0), 0)
    assert [a.shape for a in empty] == [(0, 5, 3), (0, 5, 3), (0, 5)]


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
