"""regconv.md.nve: the drift and excursion arithmetic, and NVE runs at several temperatures
side by side (a conservative force field conserves the total energy)."""

from __future__ import annotations

import numpy as np
import pytest

from ase import Atoms
from regconv.md import energy_drift, nve_drift
from tests.md.springs import NUMBERS, POS, springs


def test_drift_is_the_slope_per_atom_and_the_excursion_the_largest_deviation():
    t = np.linspace(0.0, 2.0, 21)  # ps
    e = -10.0 + 0.004 * t  # eV: 4 meV/ps on 2 atoms
    e[10] += 0.01  # a spike in the middle (t = 1 ps) leaves the slope as it is
    d = energy_drift(t, e, 2)
    assert d.drift_meV_per_atom_ps == pytest.approx(2.0, abs=1e-9)
    assert d.max_excursion_meV_per_atom == pytest.approx((4.0 + 10.0) / 2, abs=1e-9)
    with pytest.raises(ValueError, match="one shape"):
        energy_drift(t, e[:3], 2)


def test_nve_runs_conserve_the_energy_and_report_per_temperature():
    atoms = Atoms(numbers=NUMBERS, positions=POS)
    runs = nve_drift(springs, atoms, temperatures_K=[100.0, 300.0], ps=0.05, dt_fs=0.25,
                     every=8)  # fmt: skip
    assert [r.start_temperature_K for r in runs] == [100.0, 300.0]
    for run in runs:
        assert run.steps == 200 and run.trace.shape == (26, 4)  # steps 0, 8, ..., 200
        np.testing.assert_allclose(run.trace[:, 0], np.arange(26) * 8 * 0.25e-3)
        assert run.max_excursion_meV_per_atom < 2.0  # springs of 1 eV/Å^2, 0.25 fs
        assert abs(run.drift_meV_per_atom_ps) < 20.0 and run.steps_per_s > 0
        assert set(run.record()) == {"start_temperature_K", "steps", "dt_fs",
                                     "drift_meV_per_atom_ps", "max_excursion_meV_per_atom",
                                     "mean_temperature_K", "steps_per_s"}  # fmt: skip
    assert runs[1].trace[0, 1] > runs[0].trace[0, 1]  # the hotter start
    # the velocities of one seed: the 300 K start is the 100 K start scaled by sqrt(3)
    assert runs[1].trace[0, 1] == pytest.approx(3 * runs[0].trace[0, 1], rel=1e-9)


def test_bad_settings_are_refused():
    atoms = Atoms(numbers=NUMBERS, positions=POS)
    with pytest.raises(ValueError, match="temperatures_K"):
        nve_drift(springs, atoms, temperatures_K=[300.0, -1.0], ps=0.01)
    with pytest.raises(ValueError, match="ps"):
        nve_drift(springs, atoms, temperatures_K=[300.0], ps=0.0)
    with pytest.raises(ValueError, match="every"):
        nve_drift(springs, atoms, temperatures_K=[300.0], ps=0.01, every=0)
