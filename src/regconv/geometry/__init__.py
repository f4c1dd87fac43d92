"""Pure geometric functions: rotations and invariants of point pairs (no learnable state)."""

from regconv.geometry.rotations import (
    axis_angle_to_matrix,
    random_orthogonal,
    random_reflection,
    random_rotation,
)

__all__ = ["axis_angle_to_matrix", "random_orthogonal", "random_reflection", "random_rotation"]
