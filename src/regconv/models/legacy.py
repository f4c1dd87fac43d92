"""Options and parameter names of models saved by earlier releases, mapped to today's, in one
place: :meth:`regconv.training.RegressionTask` applies them to every checkpoint it loads.

Options:

- release 0.1, before the first component redesign: ``radial_scales`` / ``approach_horizon`` /
  ``approach_invariants`` of the node models became pair features
  (:mod:`regconv.kernels.pair_features`): ``inverse_square``, ``closest_approach`` and
  ``heading``, in the order the old model concatenated them (heading, then the inverse-square
  features of the distance, then those of the closest approach);
- releases before 0.6 gave the fibre models (``r3``, ``r3s2``, ``se3``, ``r3s2-attention`` and
  their variants) flat options; 0.6 groups them into components (:data:`FLAT_OPTIONS`:
  ``table_step`` -> ``table.step``, ``pooling`` -> ``readout.pooling``, ...), each given as a
  partial mapping that :func:`regconv.models.create` merges into the model's default;
- removed options (:data:`REMOVED_OPTIONS`): ``vector_skip`` (it measured no gain and no config
  used it) and, in release 0.6, ``basis_rbf``, ``conv_gain``, ``embedding_std`` and
  ``final_norm`` (per-step tries that changed nothing): the value that left the model as it
  is now is dropped, any other cannot be loaded.

Defaults (:data:`CHANGED_DEFAULTS`): an option whose default changed in a release is set to its
old default in the options of a model saved by an earlier release, so that the model computes
what it computed when it was trained (release 0.2: ``r3s2`` tabulates its kernel by default, the
C¹ cubic table at 0.1 Å; models of 0.1 keep the exact kernel; release 0.3: its spatial kernel
basis sees 50 Gaussians of the pair distance; models of 0.1 and 0.2 keep none; release 0.4:
the table interpolates with the quadratic B-spline, 9 nodes per row instead of the cubic's 16;
models of 0.2 and 0.3 keep the cubic one). Checkpoints record the release that wrote them
(``regconv_version``); those without are of 0.1. The entries name the flat options of those
releases.

:func:`upgrade_options` is also the translation of a flat option dict of any earlier release
(a benchmark spec ``r3s2:table_order=cubic``, an old config) into today's form.

Parameter names: :data:`RENAMED_PARAMETERS` lists ``(old prefix, new prefix)`` pairs; both
redesigns kept every name, so it is empty, and :func:`upgrade_state_dict` is the place where a
future rename goes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "CHANGED_DEFAULTS",
    "FLAT_OPTIONS",
    "REMOVED_OPTIONS",
    "RENAMED_PARAMETERS",
    "upgrade_options",
    "upgrade_state_dict",
]

#: ``(release, model names, option, default before that release)``
CHANGED_DEFAULTS: tuple[tuple[str, tuple[str, ...], str, Any], ...] = (
    ("0.2.0", ("r3s2",), "table_step", None),
    ("0.2.0", ("r3s2",), "table_order", "linear"),
    ("0.3.0", ("r3s2",), "basis_radial", 0),
    ("0.4.0", ("r3s2",), "table_order", "cubic"),
)

#: the fibre models' options before release 0.6: ``flat name -> (component, its option)``
FLAT_OPTIONS: dict[str, tuple[str, str]] = {
    "num_orientations": ("space", "num_orientations"),
    "chiral": ("space", "chiral"),
    "group": ("space", "group"),
    "basis_dim": ("basis", "dim"),
    "degree": ("basis", "degree"),
    "basis_radial": ("basis", "radial"),
    "length_scale": ("basis", "length_scale"),
    "kernel": ("block", "kind"),
    "heads": ("block", "heads"),
    "widening": ("block", "widening"),
    "layer_scale": ("block", "layer_scale"),
    "table_step": ("table", "step"),
    "table_order": ("table", "order"),
    "pooling": ("readout", "pooling"),
    "readout_hidden": ("readout", "hidden"),
    "readout_all_layers": ("readout", "all_layers"),
}

#: removed options of the fibre models: ``name -> (the value that changed nothing, removed in)``
REMOVED_OPTIONS: dict[str, tuple[Any, str]] = {
    "vector_skip": (False, "the component redesign"),
    "basis_rbf": (0, "release 0.6"),
    "conv_gain": (1.0, "release 0.6"),
    "embedding_std": (1.0, "release 0.6"),
    "final_norm": (True, "release 0.6"),
}

#: the release of checkpoints that do not say which release wrote them
FIRST_RELEASE = "0.1.0"


def _release(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(version).split("+")[0].split("."))
    except ValueError:
        raise ValueError(f"not a release number: {version!r}") from None


#: ``(old prefix, new prefix)`` of renamed parameters, applied in order
RENAMED_PARAMETERS: tuple[tuple[str, str], ...] = ()


def upgrade_options(
    name: str, options: Mapping[str, Any], saved_by: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``(name, options)`` of a saved model -> the same model in today's registry.

    ``saved_by``: the release that saved the options (None: :data:`FIRST_RELEASE`); options
    left to a default that has changed since are set to the old default. Options of this release
    (``saved_by=regconv.__version__``, as for a new model) keep today's defaults. Flat options of
    the fibre models (:data:`FLAT_OPTIONS`) become partial component mappings whatever the
    release; options already in today's form are kept.

    Raises ``ValueError`` for an option whose model can no longer be built.
    """
    options = dict(options)
    saved = _release(saved_by if saved_by is not None else FIRST_RELEASE)
    for release, names, option, old in CHANGED_DEFAULTS:
        given = option in options or FLAT_OPTIONS.get(option, (option,))[0] in options
        if name in names and saved < _release(release) and not given:
            options[option] = old
    if not _is_fibre_model(name):
        return name, options
    for option, (off, when) in REMOVED_OPTIONS.items():
        value = options.pop(option, off)
        if value != off:
            raise ValueError(
                f"{option}={value!r} is an option removed in {when}: a model that sets it "
                "cannot be loaded or built by this release"
            )
    _pair_features(options)
    _components(name, options)
    return name, options


def _is_fibre_model(name: str) -> bool:
    from regconv.models.registry import available, options

    return name in available() and "space" in options(name)


def _pair_features(options: dict[str, Any]) -> None:
    """Release 0.1's ``radial_scales``, ``approach_horizon``, ``approach_invariants``."""
    scales = options.pop("radial_scales", None)
    horizon = options.pop("approach_horizon", None)
    heading = options.pop("approach_invariants", False)
    if scales is None and horizon is None and not heading:
        return
    if "pair_features" in options:
        raise ValueError("options mix radial_scales/approach_horizon with pair_features")
    features: list[dict[str, Any]] = []
    if heading:
        features.append({"kind": "heading", "horizon": horizon})
    if scales is not None:
        features.append({"kind": "inverse_square", "scales": list(scales)})
        if horizon is not None:
            approach = {"kind": "closest_approach", "scales": list(scales), "horizon": horizon}
            features.append(approach)
    options["pair_features"] = features


def _components(name: str, options: dict[str, Any]) -> None:
    """Flat options -> partial component mappings (:data:`FLAT_OPTIONS`), in place."""
    from regconv.models.registry import options as defaults

    parts: dict[str, dict[str, Any]] = {}
    for flat in [k for k in options if k in FLAT_OPTIONS]:
        component, key = FLAT_OPTIONS[flat]
        if component in options:
            raise ValueError(f"options mix the flat option {flat} with {component}")
        parts.setdefault(component, {})[key] = options.pop(flat)
    table = parts.pop("table", None)
    if table is not None and table.get("step", 0) is None:
        options["table"] = None  # the exact kernel; an order beside it was never read
    elif table is not None and ("step" in table or defaults(name).get("table") is not None):
        options["table"] = table
    options.update(parts)


def upgrade_state_dict(state: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A copy of ``state`` with the keys under ``prefix`` renamed by :data:`RENAMED_PARAMETERS`."""
    out = {}
    for key, value in state.items():
        new = key
        for old_prefix, new_prefix in RENAMED_PARAMETERS:
            if new.startswith(prefix + old_prefix):
                new = prefix + new_prefix + new[len(prefix + old_prefix) :]
        out[new] = value
    return out
