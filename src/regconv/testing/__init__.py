"""The equivariance kit, importable by users: ``assert_equivariant`` and its parts."""

from regconv.testing.equivariance import (
    assert_equivariant,
    equivariance_errors,
    transform_batch,
    within_graph_permutation,
)

__all__ = ["assert_equivariant", "equivariance_errors", "transform_batch", "within_graph_permutation"]
