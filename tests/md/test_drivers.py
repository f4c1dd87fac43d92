"""regconv.md.dynamics and regconv.md.relax as a library: a run writes its frames and log and
reports its end; a relaxation lowers the energy; bad settings are ValueErrors before any file.
(The command-line behaviour is tested in tests/cli/test_md.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from ase.io import read

from ase import Atoms
from regconv.md import molecular_dynamics, relax
from tests.md.springs import POS, Springs


def springs_atoms():
    atoms = Atoms("C4", positions=POS)
    atoms.calc = Springs()
    return atoms


def test_molecular_dynamics_writes_frames_and_reports_the_end(tmp_path):
    lines: list[str] = []
    result = molecular_dynamics(springs_atoms(), steps=12, every=4, trajectory=tmp_path / "t.xyz",
                                log=tmp_path / "md.csv", thermostat="none",
                                progress=lines.append)  # fmt: skip
    frames = read(tmp_path / "t.xyz", index=":")
    assert len(frames) == result.frames == 4 and frames[-1].info["step"] == 12
    assert len((tmp_path / "md.csv").read_text().splitlines()) == 5
    assert abs(result.drift_meV_per_atom) < 1.0 and result.temperature_K > 0
    assert lines and "step 12/12" in lines[-1]


def test_nve_takes_zero_friction_and_temperature_and_langevin_needs_friction(tmp_path):
    out = tmp_path / "t.xyz"
    atoms = springs_atoms()
    result = molecular_dynamics(atoms, steps=4, every=2, trajectory=out, thermostat="none",
                                temperature_K=0, friction_per_fs=0)  # fmt: skip
    assert result.steps == 4 and result.frames == 3 and result.temperature_K >= 0
    with pytest.raises(ValueError, match="friction_per_fs must be > 0 for the Langevin"):
        molecular_dynamics(springs_atoms(), steps=4, trajectory=out, friction_per_fs=0)
    with pytest.raises(ValueError, match="friction_per_fs must be a finite number >= 0"):
        molecular_dynamics(springs_atoms(), steps=4, trajectory=out, thermostat="none",
                           friction_per_fs=-1.0)  # fmt: skip
    with pytest.raises(ValueError, match="temperature_K must be a finite number >= 0"):
        molecular_dynamics(springs_atoms(), steps=4, trajectory=out, temperature_K=-1.0)


def test_relax_lowers_the_energy_to_a_small_force():
    result = relax(springs_atoms(), fmax=1e-3)
    assert result.converged and result.energy < result.start_energy and result.fmax < 1e-3
    assert result.forces.shape == (4, 3)


def test_bad_settings_are_value_errors_before_any_file(tmp_path):
    out = tmp_path / "t.xyz"
    with pytest.raises(ValueError, match="steps"):
        molecular_dynamics(springs_atoms(), steps=0, trajectory=out)
    with pytest.raises(ValueError, match="thermostat"):
        molecular_dynamics(springs_atoms(), steps=5, trajectory=out, thermostat="nose")
    with pytest.raises(ValueError, match="calculator"):
        molecular_dynamics(Atoms("C4", positions=POS), steps=5, trajectory=out)
    assert not out.exists()
    with pytest.raises(ValueError, match="optimizer"):
        relax(springs_atoms(), optimizer="lbfgs")
    with pytest.raises(ValueError, match="fmax"):
        relax(springs_atoms(), fmax=np.nan)
