"""regconv.md.physical: bonds, and the criteria of a physical geometry: broken bonds, atoms
collapsed onto each other (a trajectory where two atoms merge), escaped atoms, non-finite
positions; a start that breaks them is refused."""

from __future__ import annotations

import numpy as np
import pytest

from regconv.md import PhysicalCheck, bonds_of

WATER = np.array([[0.0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
O_H_H = np.array([8, 1, 1])


def test_bonds_are_the_close_pairs_with_their_lengths():
    bonds = bonds_of(O_H_H, WATER)
    assert sorted(map(tuple, bonds[:, :2].astype(int))) == [(0, 1), (0, 2)]
    np.testing.assert_allclose(bonds[:, 2], [0.96, np.hypot(0.24, 0.93)])


def test_a_stretched_bond_and_an_escaped_atom_are_unphysical():
    check = PhysicalCheck.of(O_H_H, WATER)
    assert check.violation(WATER) is None
    stretched = WATER.copy()
    stretched[1, 0] = 2.0  # O-H at 2.0 Å > 2 x 0.96
    assert "bond 0-1 (O-H) stretched to 2.08x its starting 0.96 Å" in check.violation(stretched)
    far = WATER.copy()
    far[2] = [0.0, 0.0, 30.0]  # and its bond too: the collapse and bond tests come first
    assert "stretched" in check.violation(far)
    loose = PhysicalCheck.of(O_H_H, WATER, stretch=100.0, escape=5.0)
    assert "atom 2 (H)" in loose.violation(far) and "centre of mass" in loose.violation(far)
    nan = WATER.copy()
    nan[0, 0] = np.nan
    assert check.violation(nan) == "positions are not finite"


def test_atoms_that_merge_along_a_trajectory_are_caught_when_they_collapse():
    # H 1 slides onto O 0 along the bond: 0.96 Å -> 0 Å; collapse below 0.5 x (0.66 + 0.31) Å
    check = PhysicalCheck.of(O_H_H, WATER)
    limit = 0.5 * (0.66 + 0.31)
    assert check.collapse_at[0, 1] == pytest.approx(limit)
    caught = []
    for d in np.linspace(0.96, 0.0, 25):
        frame = WATER.copy()
        frame[1, 0] = d
        problem = check.violation(frame)
        if problem is not None:
            caught.append((d, problem))
    first_d, problem = caught[0]
    assert first_d < limit <= first_d + 0.04 and len(caught) == sum(
        d < limit for d in np.linspace(0.96, 0.0, 25)
    )
    assert problem.startswith("atoms 0 (O) and 1 (H) collapsed:") and "Å apart" in problem
    # two non-bonded H atoms meeting are caught too (0.5 x 2 x 0.31 Å)
    frame = WATER.copy()
    frame[2] = frame[1] + [0.0, 0.2, 0.0]
    assert "atoms 1 (H) and 2 (H) collapsed" in check.violation(frame)


def test_a_start_that_breaks_the_criteria_and_bad_factors_are_refused():
    with pytest.raises(ValueError, match="start geometry is not physical: atom"):
        PhysicalCheck.of(O_H_H, WATER, escape=0.5)
    merged = WATER.copy()
    merged[1] = merged[0] + 0.1
    with pytest.raises(ValueError, match="start geometry is not physical: atoms 0"):
        PhysicalCheck.of(O_H_H, merged)
    with pytest.raises(ValueError, match="collapse"):
        PhysicalCheck.of(O_H_H, WATER, collapse=1.5)
    with pytest.raises(ValueError, match="escape"):
        PhysicalCheck.of(O_H_H, WATER, escape=-1.0)
    with pytest.raises(ValueError, match=r"positions \[N, 3\]"):
        PhysicalCheck.of(O_H_H, WATER[:2])
