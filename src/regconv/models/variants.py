"""Registered variants: a model with the settings of one task as its defaults.

The charged N-body system (:mod:`regconv.data.nbody`): PONITA's dense setting (full graphs with
self-loops, positions of order 1 so no length rescaling, no layer scale) and two pair features
that let the kernel follow the inverse-square forces: ``d^2 / (r^2 + d^2)`` of the pair distance
and of its closest approach on straight lines within the 1 time unit between the input and the
target frame (:mod:`regconv.kernels.pair_features`; BENCHMARKS.md, "Charged N-body").
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
    """The defaults of the ``*-nbody`` variants."""
    return {
        "cutoff": None,
        "self_loops": True,
        "length_scale": 1.0,
        "layer_scale": None,
        "pair_features": NBODY_PAIR_FEATURES,
        "table_step": None,  # four kernel inputs: the exact kernel (r3s2 tabulates by default)
    }
