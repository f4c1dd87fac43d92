"""Pure geometric functions: rotations and invariants of point pairs (no learnable state)."""

from regconv.geometry.invariants import (
    axial_invariants,
    bond_angle_cosine,
    distance,
    frame_invariants,
    full_r3s2_invariants,
    relative_frames,
    sphere_invariants,
)
from regconv.geometry.rotations import (
    axis_angle_to_matrix,
    random_orthogonal,
    random_reflection,
    random_rotation,
    random_rotations,
)

__all__ = [
    "axial_invariants",
    "axis_angle_to_matrix",
    "bond_angle_cosine",
    "distance",
    "frame_invariants",
    "full_r3s2_invariants",
    "random_orthogonal",
    "random_reflection",
    "random_rotation",
    "random_rotations",
    "relative_frames",
    "sphere_invariants",
]
