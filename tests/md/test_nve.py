"""regconv.md.nve: the drift and excursion arithmetic, and NVE runs at several temperatures
side by side (a conservative force field conserves the total energy)."""

from __future__ import annotations

import numpy as np
import pytest

from ase import Atoms
from regconv.md import energy_drift, nve_drift
from tests.md.springs import NUMBERS, POS, BreaksAfter, springs


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
                                     "mean_temperature_K", "steps_per_s",
                                     "nonfinite_at_step"}  # fmt: skip
        assert run.nonfinite_at_step is None
    assert runs[1].trace[0, 1] > runs[0].trace[0, 1]  # the hotter start
    # the velocities of one seed: the 300 K start is the 100 K start scaled by sqrt(3)
    assert runs[1].trace[0, 1] == pytest.approx(3 * runs[0].trace[0, 1], rel=1e-9)


def test_a_run_that_blows_up_is_cut_where_it_broke_and_the_others_are_reported():
    atoms = Atoms(numbers=NUMBERS, positions=POS)
    settings = dict(ps=0.05, dt_fs=0.25, every=8)
    runs = nve_drift(BreaksAfter(37), atoms, temperatures_K=[100.0, 300.0, 500.0], **settings)
    healthy = nve_drift(springs, atoms, temperatures_K=[100.0, 500.0], **settings)
    broken = runs[1]
    assert broken.nonfinite_at_step == 37 and broken.record()["nonfinite_at_step"] == 37
    assert broken.trace.shape == (5, 4)  # steps 0, 8, ..., 32: the samples before step 37
    assert np.isfinite(broken.trace).all() and np.isfinite(broken.drift_meV_per_atom_ps)
    assert np.isfinite(broken.mean_temperature_K) and broken.max_excursion_meV_per_atom < 2.0
    # the others ran to the end, as they would have alone
    for run, alone in zip([runs[0], runs[2]], healthy, strict=True):
        assert run.nonfinite_at_step is None and run.steps == 200
        np.testing.assert_allclose(run.trace, alone.trace, rtol=1e-12, atol=1e-12)
        assert run.drift_meV_per_atom_ps == pytest.approx(alone.drift_meV_per_atom_ps, abs=1e-6)
    # all of them broken: the runs stop there, and count the steps done
    ended = nve_drift(BreaksAfter(21, index=slice(None), batch=2), atoms,
                      temperatures_K=[100.0, 300.0], **settings)  # fmt: skip
    assert [(r.steps, r.nonfinite_at_step, len(r.trace)) for r in ended] == [(21, 21, 3)] * 2


def test_a_start_of_non_finite_energy_is_refused():
    atoms = Atoms(numbers=NUMBERS, positions=POS)
    with pytest.raises(ValueError, match="start geometry is not finite"):
        nve_drift(BreaksAfter(0, batch=2), atoms, temperatures_K=[100.0, 300.0], ps=0.01)
    with pytest.raises(ValueError, match="finite"):
        energy_drift(np.arange(3.0), np.array([0.0, np.nan, 1.0]), 2)


def test_bad_settings_are_refused():
    atoms = Atoms(numbers=NUMBERS, positions=POS)
    with pytest.raises(ValueError, match="temperatures_K"):
        nve_drift(springs, atoms, temperatures_K=[300.0, -1.0], ps=0.01)
    with pytest.raises(ValueError, match="ps"):
        nve_drift(springs, atoms, temperatures_K=[300.0], ps=0.0)
    with pytest.raises(ValueError, match="every"):
        nve_drift(springs, atoms, temperatures_K=[300.0], ps=0.01, every=0)
    with pytest.raises(ValueError, match="shorter than one step"):
        nve_drift(springs, atoms, temperatures_K=[300.0], ps=1e-4, dt_fs=0.5)
