"""The equivariance kit, importable by users: ``assert_equivariant`` and its parts, the forces of
an energy model and their finite-difference check, random molecules for tests and examples, and
the periodic checks (lattice translations, supercells, the finite-difference stress)."""

from regconv.testing.equivariance import (
    assert_equivariant,
    equivariance_errors,
    transform_batch,
    within_graph_permutation,
)
from regconv.testing.forces import conservation_error, finite_difference_forces, forces_of
from regconv.testing.molecules import random_molecules
from regconv.testing.periodic import (
    finite_difference_stress,
    lattice_translation,
    periodic_errors,
    random_crystals,
    supercell,
)

__all__ = [
    "assert_equivariant",
    "conservation_error",
    "equivariance_errors",
    "finite_difference_forces",
    "finite_difference_stress",
    "forces_of",
    "lattice_translation",
    "periodic_errors",
    "random_crystals",
    "random_molecules",
    "supercell",
    "transform_batch",
    "within_graph_permutation",
]
