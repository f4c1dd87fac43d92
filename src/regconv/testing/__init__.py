"""The equivariance kit, importable by users: ``assert_equivariant`` and its parts, and random
molecules for tests and examples."""

from regconv.testing.equivariance import (
    assert_equivariant,
    equivariance_errors,
    transform_batch,
    within_graph_permutation,
)
from regconv.testing.molecules import random_molecules

__all__ = [
    "assert_equivariant",
    "equivariance_errors",
    "random_molecules",
    "transform_batch",
    "within_graph_permutation",
]
