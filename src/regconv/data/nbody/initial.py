"""Initial states of the N-body splits: our own seeds (``source='regconv'``) or the published data
set's stream replayed draw by draw (``source='published'``).

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
"""

from __future__ import annotations

import numpy as np

from regconv.data.nbody.physics import DIM, N_FRAMES, N_PARTICLES
from regconv.utils.checks import check_choice, check_int

__all__ = [
    "LOC_STD",
    "PUBLISHED_SEED",
    "PUBLISHED_SIZES",
    "SOURCES",
    "SPLITS",
    "SPLIT_SEEDS",
    "SPLIT_SIZES",
    "VEL_NORM",
    "check_source",
    "check_split",
    "sample_initial_conditions",
    "sample_published_initial_conditions",
]

LOC_STD = 1.0
VEL_NORM = 0.5

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


def check_split(split: str) -> str:
    """``split`` if it is one of ``SPLITS``, else ``ValueError`` listing them."""
    return check_choice("split", split, SPLITS)


def check_source(source: str) -> str:
    """``source`` if it is one of ``SOURCES``, else ``ValueError`` listing them."""
    return check_choice("source", source, SOURCES)


def sample_initial_conditions(
    n_traj: int, seed: int, n_particles: int = N_PARTICLES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Initial ``(loc0 [T, n, 3], vel0 [T, n, 3], charges [T, n])`` of a split.

    ``rng = numpy.random.default_rng(seed)``; drawn for all trajectories at once, in order:
    charges ``2 * rng.integers(0, 2, (T, n)) - 1``, positions ``LOC_STD * rng.standard_normal``,
    velocities ``rng.standard_normal`` rescaled to norm ``VEL_NORM`` per particle.
    """
    n_traj = check_int("n_traj", n_traj, 0)
    n_particles = check_int("n_particles", n_particles, 2)
    rng = np.random.default_rng(seed)
    charges = (2 * rng.integers(0, 2, size=(n_traj, n_particles)) - 1).astype(np.float64)
    loc0 = LOC_STD * rng.standard_normal((n_traj, n_particles, DIM))  # [T, n, 3]
    vel0 = rng.standard_normal((n_traj, n_particles, DIM))  # [T, n, 3]
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
    check_split(split)
    if n_traj is None:
        n_traj = PUBLISHED_SIZES[split]
    n_traj = check_int("n_traj", n_traj, 0)
    if n_traj > PUBLISHED_SIZES[split]:
        raise ValueError(
            f"the published '{split}' split has {PUBLISHED_SIZES[split]} trajectories, "
            f"asked for {n_traj}"
        )
    rs = np.random.RandomState(PUBLISHED_SEED)
    shape = (DIM, N_PARTICLES)
    noise_shape = (N_FRAMES, DIM, N_PARTICLES)

    def draw_one() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
