"""Spaces named by specs: ``{"kind": ..., **options}`` -> the space."""

import pytest

from regconv.spaces import R3, R3S2, SE3, SPACES, build_space


def test_spaces_from_specs_and_instances():
    assert set(SPACES) == {"r3", "r3s2", "se3"}
    assert isinstance(build_space({"kind": "r3"}), R3)
    r3s2 = build_space({"kind": "r3s2", "num_orientations": 6, "chiral": True})
    assert isinstance(r3s2, R3S2) and r3s2.num_fibre == 6 and r3s2.chiral
    se3 = build_space({"kind": "se3", "group": "tetrahedral"})
    assert isinstance(se3, SE3) and se3.num_fibre == 12
    space = R3S2(8)
    assert build_space(space) is space


@pytest.mark.parametrize(
    ("spec", "match"),
    [({"num_orientations": 8}, "space must name its 'kind'"),
     ({"kind": "r3s2_edge"}, "space: unknown kind 'r3s2_edge'; known: r3, r3s2, se3"),
     ({"kind": "r3", "num_orientations": 8}, r"space \(r3\)"),
     ({"kind": "r3s2", "num_orientations": 2}, "at least 3 orientations"),
     ("r3s2", "space must be a FibreSpace or a mapping")],
)  # fmt: skip
def test_bad_space_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        build_space(spec)
