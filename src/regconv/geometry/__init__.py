"""Pure geometric functions: rotations and invariants of point pairs (no learnable state)."""

from regconv.geometry.rotations import (
    axis_angle_to_matrix,
    random_orthogonal,
    random_reflection,
    random_rotation,
)

__all__ = ["axis_angle_to_matrix", "random_orthogonal", "random_reflection", "random_rotation"]
from regconv.geometry.invariants import (  # noqa: E402
    axial_invariants,
    bond_angle_cosine,
    distance,
    frame_invariants,
    full_r3s2_invariants,
    relative_frames,
    sphere_invariants,
)

__all__ += [
    "axial_invariants",
    "bond_angle_cosine",
    "distance",
    "frame_invariants",
    "full_r3s2_invariants",
    "relative_frames",
    "sphere_invariants",
]
