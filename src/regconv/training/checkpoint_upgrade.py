"""What :class:`regconv.training.RegressionTask` does to a checkpoint written by an earlier
release before loading it: the network options it trained (defaults that changed since,
:func:`regconv.models.legacy.upgrade_options`), parameters renamed since
(:func:`regconv.models.legacy.upgrade_state_dict`, for the network and its moving average), and
a check that it was trained on the same task.
"""

from __future__ import annotations

from typing import Any

from regconv.training.spec import TaskSpec

__all__ = ["PREFIXES", "check_task", "options_trained", "upgrade_parameters"]

PREFIXES = ("net.", "ema.module.")
"""The state-dict prefixes of the network and of its moving average."""


def options_trained(name: str, options: dict[str, Any], saved_by: str | None) -> dict | None:
    """The options of the network model ``name`` with ``options`` was when release ``saved_by``
    wrote it, where a default changed since (build that network: same parameters); None when
    today's defaults build the same network."""
    from regconv import __version__
    from regconv.models.legacy import upgrade_options

    _, then = upgrade_options(name, options, saved_by)
    _, now = upgrade_options(name, options, __version__)
    return then if then != now else None


def upgrade_parameters(checkpoint: dict[str, Any]) -> None:
    """Rename the parameters of the network and its moving average renamed since the
    checkpoint was written (in place)."""
    from regconv.models.legacy import upgrade_state_dict

    if "state_dict" in checkpoint:
        for prefix in PREFIXES:
            checkpoint["state_dict"] = upgrade_state_dict(checkpoint["state_dict"], prefix)


def check_task(checkpoint: dict[str, Any], spec: TaskSpec) -> None:
    """``ValueError`` if the checkpoint was trained on another task than ``spec``."""
    saved = checkpoint.get("hyper_parameters", {}).get("task")
    if saved is not None and TaskSpec.from_dict(saved) != spec:
        raise ValueError(
            f"the checkpoint was trained on task {TaskSpec.from_dict(saved).to_dict()}, "
            f"but this run's task is {spec.to_dict()}"
        )
