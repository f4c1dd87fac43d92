"""Options and parameter names of models saved by earlier releases, mapped to today's, in one
place: :meth:`regconv.training.RegressionTask` applies them to every checkpoint it loads.

Options (release 0.1 before the component redesign):

- ``radial_scales`` / ``approach_horizon`` / ``approach_invariants`` of the node models became
  pair features (:mod:`regconv.kernels.pair_features`): ``inverse_square``, ``closest_approach``
  and ``heading``, in the order the old model concatenated them (heading, then the
  inverse-square features of the distance, then those of the closest approach);
- ``vector_skip`` was removed (it measured no gain and no config used it): ``False`` is dropped,
  ``True`` cannot be loaded.

Defaults (:data:`CHANGED_DEFAULTS`): an option whose default changed in a release is set to its
old default in the options of a model saved by an earlier release, so that the model computes
what it computed when it was trained (release 0.2: ``r3s2`` tabulates its kernel by default, the
C¹ cubic table at 0.1 Å; models of 0.1 keep the exact kernel; release 0.3: its spatial kernel
basis sees 50 Gaussians of the pair distance; models of 0.1 and 0.2 keep none; release 0.4:
the table interpolates with the quadratic B-spline, 9 nodes per row instead of the cubic's 16;
models of 0.2 and 0.3 keep the cubic one). Checkpoints
record the release that wrote them (``regconv_version``); those without are of 0.1.

Parameter names: :data:`RENAMED_PARAMETERS` lists ``(old prefix, new prefix)`` pairs; the
redesign kept every name, so it is empty, and :func:`upgrade_state_dict` is the place where a
future rename goes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CHANGED_DEFAULTS", "RENAMED_PARAMETERS", "upgrade_options", "upgrade_state_dict"]

_NODE_MODELS = ("r3", "r3s2", "se3")

#: ``(release, model names, option, default before that release)``
CHANGED_DEFAULTS: tuple[tuple[str, tuple[str, ...], str, Any], ...] = (
    ("0.2.0", ("r3s2",), "table_step", None),
    ("0.2.0", ("r3s2",), "table_order", "linear"),
    ("0.3.0", ("r3s2",), "basis_radial", 0),
    ("0.4.0", ("r3s2",), "table_order", "cubic"),
)

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
    (``saved_by=regconv.__version__``, as for a new model) keep today's defaults.

    Raises ``ValueError`` for an option whose model can no longer be built.
    """
    options = dict(options)
    saved = _release(saved_by if saved_by is not None else FIRST_RELEASE)
    for release, names, option, old in CHANGED_DEFAULTS:
        if name in names and saved < _release(release) and option not in options:
            options[option] = old
    if name not in _NODE_MODELS:
        return name, options
    if options.pop("vector_skip", False):
        raise ValueError(
            "this model was saved with vector_skip=True, an option removed in the component "
            "redesign; it cannot be loaded by this release"
        )
    scales = options.pop("radial_scales", None)
    horizon = options.pop("approach_horizon", None)
    heading = options.pop("approach_invariants", False)
    if scales is None and horizon is None and not heading:
        return name, options
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
    return name, options


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
