"""The models of the energy + force budget benchmark: default sizes and ``NAME:key=value`` specs.

=================  ======================================================================
model              options
=================  ======================================================================
r3, r3s2           hidden 64, 4 layers, basis 64, cutoff 5 Å; invariants in Å
                   (``basis.length_scale`` 1), no layer scale, and the pair feature
                   ``d^2 / (r^2 + d^2)`` at bond lengths (:data:`BOND_FEATURES`);
                   ``r3s2``: 4 orientations, cutoff 4 Å and the C² table
                   (``cubic_bspline``, 0.1 Å; chosen on validation frames in release 0.7.1,
                   BENCHMARKS.md; release 0.7: 8 orientations, 5 Å, the quadratic table),
                   the pair features evaluated at the table's nodes (they are functions of
                   the distance); ``r3s2:table=None`` is the exact kernel (README's r3s2
                   row of release 0.1, and the default here in release 0.6); both at the
                   learning rate 2e-3 (:data:`MODEL_LR`; release 0.8.0 and before: 1e-3)
schnet             hidden 64, 4 interactions, 32 Gaussians, cutoff 5 Å; learning rate 5e-3
dimenet            hidden 64, 4 blocks, cutoff 5 Å
mace               MACE (``mace-torch``) through ``mace_run_train``: ``64x0e+64x1o``,
                   ``r_max`` 5 Å, its other defaults (2 interactions, ``max_L`` from the
                   irreps, correlation 3); spec ``mace:hidden_irreps=...,r_max=...``
                   (and ``epochs=N``, a bound on its epochs besides the time cap)
=================  ======================================================================
"""

from __future__ import annotations

from typing import Any

from regconv.bench.options import combine
from regconv.bench.specs import parse_spec

__all__ = [
    "BOND_FEATURES",
    "DEFAULT_LR",
    "MACE_OPTIONS",
    "MODEL_LR",
    "MODEL_OPTIONS",
    "default_models",
    "spec_lr",
    "spec_options",
]

#: ``d^2 / (r^2 + d^2)`` at lengths ``d`` (Å) around covalent bond lengths: resolution where the
#: forces are (see :class:`regconv.kernels.InverseSquareDistance`)
BOND_FEATURES: list[dict[str, Any]] = [{"kind": "inverse_square", "scales": [0.7, 1.0, 1.5, 2.5]}]

_FIBRE = {
    "hidden": 64,
    "layers": 4,
    "basis": {"dim": 64, "length_scale": 1.0},
    "cutoff": 5.0,
    "block": {"layer_scale": None},
    "pair_features": BOND_FEATURES,
}

#: regconv models and their benchmark options
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "r3s2": {
        **_FIBRE,
        "cutoff": 4.0,
        "space": {"num_orientations": 4},
        "table": {"order": "cubic_bspline"},
    },
    "r3": dict(_FIBRE),
    "schnet": {"hidden": 64, "layers": 4, "num_rbf": 32, "cutoff": 5.0},
    "dimenet": {"hidden": 64, "layers": 4, "cutoff": 5.0},
}

#: the peak learning rate of a regconv model without one of its own (below)
DEFAULT_LR = 1e-3

#: peak learning rates chosen per model: ``schnet`` on the generated ethanol set (release 0.2),
#: ``r3s2`` and ``r3`` on aspirin's validation frames (release 0.8.1; 1e-3 before). ``--lr``
#: sets every model's, a spec's ``lr`` key its own (``r3s2:lr=0.001`` is release 0.8.0's).
MODEL_LR: dict[str, float] = {"r3": 2e-3, "r3s2": 2e-3, "schnet": 5e-3}

#: MACE's options (``mace_run_train`` flags without the dashes)
MACE_OPTIONS: dict[str, Any] = {"hidden_irreps": "64x0e+64x1o", "r_max": 5.0}


def default_models() -> list[str]:
    """The benchmark's models, in table order."""
    return [*MODEL_OPTIONS, "mace"]


def spec_options(spec: str) -> tuple[str, dict[str, Any]]:
    """Model name and its full options (defaults, then the spec's overrides, merged option by
    option: ``r3s2:basis.dim=32`` keeps the basis's length scale). The key ``lr``
    of a regconv model's spec is its learning rate (``schnet:lr=0.005``), not a model option:
    see :func:`spec_lr`."""
    from regconv import models

    name, overrides = parse_spec(spec)
    overrides.pop("lr", None)
    if name == "mace":
        bad = sorted(set(overrides) - set(MACE_OPTIONS) - {"epochs"})
        if bad:
            raise ValueError(f"mace has no option(s) {bad} here; its options: {list(MACE_OPTIONS)}")
        epochs = overrides.get("epochs")
        if epochs is not None and (
            isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1
        ):
            raise ValueError(f"bad model spec {spec!r}: epochs must be an integer >= 1")
        return name, {**MACE_OPTIONS, **overrides}
    if name not in models.available():
        raise ValueError(f"unknown model {name!r}; available: {models.available() + ['mace']}")
    accepted = set(models.options(name)) - {"num_outputs", "output", "in_features", "vector_in"}
    bad = sorted(set(overrides) - accepted)
    if bad:
        raise ValueError(f"model {name!r} has no option(s) {bad}; its options: {sorted(accepted)}")
    return name, combine(MODEL_OPTIONS.get(name, {}), overrides)


def spec_lr(spec: str, lr_all: float | None = None) -> float:
    """The learning rate of a spec: its ``lr`` key, else ``lr_all`` (``--lr``, every model's),
    else its model's :data:`MODEL_LR`, else :data:`DEFAULT_LR`."""
    name, overrides = parse_spec(spec)
    fallback = lr_all if lr_all is not None else MODEL_LR.get(name, DEFAULT_LR)
    lr = overrides.get("lr", fallback)
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise ValueError(f"bad model spec {spec!r}: lr must be a positive number, got {lr!r}")
    return float(lr)
