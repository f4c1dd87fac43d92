"""The equivariance kit, importable by users: ``assert_equivariant`` and its parts, the forces of
an energy model and their finite-difference check, and random molecules for tests and examples."""

from regconv.testing.equivariance import (
    assert_equivariant,
    equivariance_errors,
    transform_batch,
    within_graph_permutation,
)
from regconv.testing.forces import conservation_error, finite_difference_forces, forces_of
from regconv.testing.molecules import random_molecules

__all__ = [
    "assert_equivariant",
    "conservation_error",
    "equivariance_errors",
    "finite_difference_forces",
    "forces_of",
    "random_molecules",
    "transform_batch",
    "within_graph_permutation",
]
