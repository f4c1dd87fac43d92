"""regconv.md.stability: runs that stay physical, runs where two atoms collapse onto each other
(caught, with when and why), resuming a saved state on the same trajectory, refusing a state of
other settings, and bad settings."""

from __future__ import annotations

import numpy as np
import pytest

from ase import Atoms
from regconv.md import ReplicaLangevin, stability
from tests.md.springs import NUMBERS, POS, springs

CARBON4 = Atoms("C4", positions=POS)


def pulling(numbers, positions):
    """Springs, and a stiff spring of rest length 0 (50 eV/Å^2) that pulls atoms 0 and 1 onto
    each other."""
    e, f = springs(numbers, positions)
    f = f.reshape(len(positions), -1, 3)
    for r, p in enumerate(positions):
        d = p[0] - p[1]
        e[r] += 25.0 * (d**2).sum()
        f[r, 0] -= 50.0 * d
        f[r, 1] += 50.0 * d
    return e, f


def test_runs_under_a_sound_force_field_stay_physical():
    result = stability(springs, Atoms(numbers=NUMBERS, positions=POS), ps=0.02, runs=3,
                       temperature_K=300.0, every=5)  # fmt: skip
    assert [r.physical for r in result.runs] == [True] * 3 and result.physical_fraction == 1.0
    assert all(r.left_at_ps is None and r.reason is None for r in result.runs)
    assert result.steps == 40 and result.steps_per_s > 0


def test_atoms_pulled_onto_each_other_are_caught_collapsing():
    result = stability(pulling, CARBON4, ps=0.02, runs=2, temperature_K=300.0, every=2)
    assert result.physical_fraction == 0.0
    for run in result.runs:
        assert not run.physical and 0.0 < run.left_at_ps < 0.02
        assert run.reason.startswith("atoms 0 (C) and 1 (C) collapsed")
    # without the collapse criterion, the merged atoms pass for physical
    blind = stability(pulling, CARBON4, ps=0.02, runs=2, temperature_K=300.0, every=2,
                      collapse=1e-9)  # fmt: skip
    assert blind.physical_fraction == 1.0


def test_an_interrupted_run_resumes_on_the_same_trajectory(tmp_path, monkeypatch):
    settings = {"ps": 0.01, "runs": 2, "temperature_K": 300.0, "every": 2, "save_every": 4}
    lines: list[str] = []
    stability(springs, CARBON4, state_path=tmp_path / "a.npz", **settings)
    straight = np.load(tmp_path / "a.npz")["pos"]

    step, calls = ReplicaLangevin.step, []

    def killed_after_five(self, n=1):
        calls.append(n)
        if len(calls) > 5:  # after step 10; the last save was at step 8
            raise KeyboardInterrupt
        step(self, n)

    monkeypatch.setattr(ReplicaLangevin, "step", killed_after_five)
    with pytest.raises(KeyboardInterrupt):
        stability(springs, CARBON4, state_path=tmp_path / "b.npz", **settings)
    monkeypatch.setattr(ReplicaLangevin, "step", step)
    stability(springs, CARBON4, state_path=tmp_path / "b.npz", progress=lines.append, **settings)
    assert lines[0] == "resuming at step 8 of 20" and lines[-1].startswith("step 20/20")
    np.testing.assert_allclose(np.load(tmp_path / "b.npz")["pos"], straight, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="other settings"):  # another length: not mixed in
        stability(springs, CARBON4, state_path=tmp_path / "b.npz", **{**settings, "ps": 0.02})
    with pytest.raises(ValueError, match="other settings"):  # another model: not mixed in
        stability(springs, CARBON4, state_path=tmp_path / "b.npz", resume_key={"model": "x"},
                  **settings)  # fmt: skip


def test_a_run_whose_replicas_all_left_keeps_when_and_why_on_a_rerun(tmp_path):
    first, again = (
        stability(
            pulling,
            CARBON4,
            ps=0.02,
            runs=2,
            temperature_K=300.0,
            every=2,
            state_path=tmp_path / "s.npz",
        )  # fmt: skip
        for _ in range(2)
    )
    assert first.runs == again.runs and not any(r.physical for r in again.runs)
    assert again.steps_per_s is None  # nothing left to run


def test_bad_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="runs"):
        stability(springs, CARBON4, ps=0.01, runs=0)
    with pytest.raises(ValueError, match="temperature_K"):
        stability(springs, CARBON4, ps=0.01, temperature_K=0.0)
    with pytest.raises(ValueError, match="shorter than one step"):
        stability(springs, CARBON4, ps=1e-6)
    with pytest.raises(ValueError, match="start geometry is not physical"):
        stability(springs, CARBON4, ps=0.01, escape=0.5)
    bad = tmp_path / "bad.npz"
    bad.write_text("not a state")
    with pytest.raises(ValueError, match="not a readable stability state"):
        stability(springs, CARBON4, ps=0.01, state_path=bad)
