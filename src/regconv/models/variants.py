"""Registered variants: a model with the settings of one task as its defaults.

The charged N-body system (:mod:`regconv.data.nbody`): the task's contract (one node vector out;
charges and velocities in), PONITA's dense setting (full graphs with self-loops, positions of
order 1 so no length rescaling, no layer scale) and two pair features that let the kernel follow
the inverse-square forces: ``d^2 / (r^2 + d^2)`` of the pair distance and of its closest
approach on straight lines within the 1 time unit between the input and the target frame
(:mod:`regconv.kernels.pair_features`; BENCHMARKS.md, "Charged N-body"). The closest approach
reads the velocities, node vector 0: the variants take ``vector_in=1`` by default.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NBODY_PAIR_FEATURES", "nbody_defaults"]

#: lengths ``d`` of the inverse-square features (simulation units)
NBODY_SCALES = [0.03, 0.1, 0.3, 1.0, 3.0]

NBODY_PAIR_FEATURES: list[dict[str, Any]] = [
    {"kind": "inverse_square", "scales": NBODY_SCALES},
    {"kind": "closest_approach", "scales": NBODY_SCALES, "horizon": 1.0},
]


def nbody_defaults() -> dict[str, Any]:
    """The defaults of the ``*-nbody`` variants besides their space: the exact kernel (four
    kernel inputs) with :class:`regconv.kernels.BasisSpec`'s defaults but ``length_scale``."""
    return {
        "num_outputs": 1,
        "output": "node_vector",
        "in_features": 1,  # the charges
        "vector_in": 1,  # the velocities
        "cutoff": None,
        "self_loops": True,
        "basis": {"length_scale": 1.0},
        "block": {"layer_scale": None},
        "table": None,
        "pair_features": NBODY_PAIR_FEATURES,
    }
