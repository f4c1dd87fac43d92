"""The models of the budget benchmark: their spaces, default sizes and ``NAME:key=value`` specs.

Default sizes (CPU budgets; ``--hidden`` overrides ``hidden`` of every model, ``NAME:key=value``
any option of one):

=================  ======================================================================
model              options
=================  ======================================================================
r3, r3s2-edge,     hidden 64, 4 layers, basis 64, cutoff 5 Å (the same for all regconv
se3                models wherever the option exists)
r3s2               the seed's model at the options chosen for it on QM9 validation molecules:
                   the registered preset ``r3s2-qm9`` (:data:`regconv.models.r3s2.QM9`, the
                   main job's, ``configs/qm9_quick.yaml``; BENCHMARKS.md, "The main job" and
                   "Four orientations") with 4 layers and a 4 Å cutoff: hidden 32, 4
                   orientations, basis 32, linear table, mean pooling, an atom-level readout
                   MLP of width 64; peak lr 4e-3 (:data:`MODEL_LR`). ``--models all`` does not
                   list the preset again (:data:`PRESET_ROWS`)
r3s2-attention     hidden 64, 4 layers, basis 64, cutoff 5 Å, 8 orientations (grid fibre)
schnet             hidden 64, 6 interactions (the paper's depth), cutoff 5 Å
egnn               hidden 64, 7 layers, cutoff 5 Å, ``update_coords=False, soft_edges=True``
                   (the paper's QM9 setup)
dimenet,           hidden 64, 4 blocks (the paper's depth), cutoff 5 Å
spherenet
schnet-pyg         PyG SchNet: hidden 128, 128 filters, 6 interactions, 50 Gaussians, 5 Å
dimenet++-pyg      PyG DimeNet++: hidden 128, 4 blocks, int 64, basis 8, out 256, 5 Å
=================  ======================================================================

(One training thread, batch 32, on the 2-core dev machine under load: r3 ~590 molecules/s,
schnet ~480, egnn ~310, dimenet ~100, r3s2 ~90, r3s2-attention ~70, spherenet ~65,
r3s2-edge ~50, se3 ~30, schnet-pyg ~200, dimenet++-pyg ~28; so 20 minutes is between ~2,000
and ~40,000 steps.)
"""

from __future__ import annotations

from typing import Any

from benchmarks.references import REFERENCES
from regconv import models
from regconv.bench.options import applicable, combine
from regconv.bench.specs import parse_spec

__all__ = [
    "COMMON_OPTIONS",
    "MODEL_LR",
    "MODEL_OPTIONS",
    "PRESET_ROWS",
    "SPACES",
    "all_models",
    "default_options",
    "parse_spec",
    "references",
    "spec_options",
]

#: The space of each model (for the table); see ``docs/models.md``.
SPACES = {
    "r3": "R^3",
    "r3s2": "R^3 x S^2 (grid)",
    "r3s2-qm9": "R^3 x S^2 (grid)",
    "r3s2-edge": "R^3 x S^2 (edge cloud)",
    "se3": "SE(3) (finite group)",
    "schnet": "R^3",
    "egnn": "R^3",
    "dimenet": "R^3 x S^2 (edge cloud)",
    "spherenet": "R^3 x S^2 (edge cloud)",
    "r3s2-attention": "R^3 x S^2 (grid)",
    "schnet-pyg": "R^3",
    "dimenet++-pyg": "R^3 x S^2 (edge cloud)",
}

#: Registered presets that a row runs under the name of their model (``--models all`` lists the
#: row, not the preset): ``preset -> row``.
PRESET_ROWS: dict[str, str] = {"r3s2-qm9": "r3s2"}


def _preset(name: str) -> dict[str, Any]:
    """The options that make the model ``PRESET_ROWS[name]`` the registered preset ``name``:
    those of the preset that differ from the model's defaults."""
    preset, model = models.options(name), models.options(PRESET_ROWS[name])
    return {k: v for k, v in preset.items() if v != model[k]}


#: Options shared by every model that takes them (:func:`regconv.bench.options.applicable`),
#: then per-model ones (see the module docstring), merged option by option.
COMMON_OPTIONS = {"hidden": 64, "layers": 4, "basis": {"dim": 64}, "cutoff": 5.0}
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "r3s2": {**_preset("r3s2-qm9"), "layers": 4, "cutoff": 4.0},
    "r3s2-attention": {"space": {"num_orientations": 8}},
    "schnet": {"layers": 6},
    "egnn": {"layers": 7, "update_coords": False, "soft_edges": True},
    "schnet-pyg": {"hidden": 128, "interactions": 6, "cutoff": 5.0},
    "dimenet++-pyg": {"hidden": 128, "blocks": 4, "cutoff": 5.0},
}

#: Peak learning rates that differ from ``--lr`` (5e-4), chosen on validation molecules with the
#: options above; ``--model-lr NAME=LR`` overrides them.
MODEL_LR: dict[str, float] = {"r3s2": 4e-3}


def references() -> dict[str, type]:
    """PyTorch Geometric's models by name (:data:`benchmarks.references.REFERENCES`)."""
    return dict(REFERENCES)


def all_models() -> list[str]:
    """The registry models that take QM9's task at their defaults (sorted: graph invariants
    from atomic numbers alone; not the N-body variants, which need charges and velocities; not
    the presets a row runs, :data:`PRESET_ROWS`), then the PyG references."""

    def qm9_shaped(name: str) -> bool:
        o = models.options(name)
        return (
            o.get("output", "graph") == "graph"
            and not o.get("in_features")
            and not (o.get("vector_in"))
        )

    listed = [n for n in models.available() if qm9_shaped(n) and n not in PRESET_ROWS]
    return listed + sorted(references())


def _accepted_options(name: str) -> dict[str, Any]:
    import inspect

    refs = references()
    if name in refs:
        sig = inspect.signature(refs[name])
        return {k: p.default for k, p in sig.parameters.items() if k != "num_outputs"}
    if name not in models.available():
        raise ValueError(f"unknown model {name!r}; available: {', '.join(all_models())}")
    return models.options(name)


def default_options(name: str, hidden: int | None = None) -> dict[str, Any]:
    """The benchmark's constructor options of ``name`` (see the module docstring)."""
    accepted = _accepted_options(name)
    if name in references():
        options = dict(MODEL_OPTIONS.get(name, {}))
    else:
        options = combine(applicable(name, COMMON_OPTIONS), MODEL_OPTIONS.get(name, {}))
    if hidden is not None and "hidden" in accepted:
        options["hidden"] = int(hidden)
    return options


def spec_options(spec: str, hidden: int | None = None) -> tuple[str, dict[str, Any]]:
    """Registry/reference name and the full options of a model spec (defaults + overrides,
    merged option by option: ``r3s2:table.order=cubic`` keeps the table's step)."""
    name, overrides = parse_spec(spec)
    accepted = _accepted_options(name)
    reserved = {"num_outputs", "output", "in_features", "vector_in"}
    bad = sorted(set(overrides) - (set(accepted) - reserved))
    if bad:
        raise ValueError(
            f"model {name!r} has no option(s) {bad}; its options: "
            f"{sorted(set(accepted) - reserved)}"
        )
    return name, combine(default_options(name, hidden), overrides)
