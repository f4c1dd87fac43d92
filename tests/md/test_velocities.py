"""regconv.md.velocities and the run length of regconv.md.replicas: thermalised copies of one
molecule (each its own seeded draw, the molecule left as it is) and steps from picoseconds."""

from __future__ import annotations

import numpy as np
import pytest

from ase import Atoms
from regconv.md import num_steps, thermalize, thermalized_copies
from tests.md.springs import NUMBERS, POS


def test_thermalized_copies_are_the_draws_of_their_seeds():
    atoms = Atoms(numbers=NUMBERS, positions=POS)
    copies = thermalized_copies(atoms, [100.0, 400.0, 100.0], [0, 0, 1])
    assert np.abs(atoms.get_velocities()).max() == 0.0  # the molecule is left as it is
    alone = atoms.copy()
    thermalize(alone, 400.0, np.random.default_rng(0))
    np.testing.assert_array_equal(copies[1].get_velocities(), alone.get_velocities())
    np.testing.assert_allclose(copies[1].get_velocities(), 2 * copies[0].get_velocities())
    assert not np.allclose(copies[2].get_velocities(), copies[0].get_velocities())
    assert all(np.array_equal(c.positions, POS) for c in copies)
    with pytest.raises(ValueError, match="one seed per temperature"):
        thermalized_copies(atoms, [100.0], [0, 1])
    with pytest.raises(ValueError, match="temperature_K must be a finite number >= 0"):
        thermalized_copies(atoms, [-1.0], [0])


def test_num_steps_rounds_the_length_and_refuses_less_than_a_step():
    assert num_steps(0.05, 0.25) == 200 and num_steps(1.0, 0.3) == 3333
    with pytest.raises(ValueError, match="shorter than one step"):
        num_steps(1e-4, 0.5)
    with pytest.raises(ValueError, match="dt_fs"):
        num_steps(1.0, 0.0)
