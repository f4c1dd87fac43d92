"""Training: one LightningModule (:class:`RegressionTask`) generic over a task spec, data modules
wrapping :mod:`regconv.data`, and the pieces a run is made of (resumable sampling, EMA, schedule,
atomic checkpoints, reports, prediction from molecule files).

See ``docs/training.md``.
"""

from regconv.training.datamodules.registry import DATA_MODULES
from regconv.utils.lazy import lazy_exports

# Imported on first use, so that prediction (regconv.training.predict, .inference) starts
# without Lightning.
_EXPORTS = {
    "BestCheckpoint": "regconv.training.callbacks",
    "StepCheckpoint": "regconv.training.callbacks",
    "Throttle": "regconv.training.callbacks",
    "AtomicCheckpointIO": "regconv.training.checkpoint_io",
    "ExponentialMovingAverage": "regconv.training.optim",
    "WarmupCosine": "regconv.training.optim",
    "Predictor": "regconv.training.inference",
    "EpochSampler": "regconv.training.sampling",
    "ResumableLoader": "regconv.training.sampling",
    "TaskSpec": "regconv.training.spec",
    "energy_forces_task": "regconv.training.spec",
    "nbody_task": "regconv.training.spec",
    "qm9_task": "regconv.training.spec",
    "RegressionTask": "regconv.training.task",
    **DATA_MODULES,  # one file per data set (regconv.training.datamodules)
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = sorted(_EXPORTS)
