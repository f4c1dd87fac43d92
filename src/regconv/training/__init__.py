"""Training: one LightningModule (:class:`RegressionTask`) generic over a task spec, data modules
wrapping :mod:`regconv.data`, and the pieces a run is made of (resumable sampling, EMA, schedule,
atomic checkpoints, reports, prediction from molecule files).

See ``docs/training.md``.
"""

from regconv.training.callbacks import BestCheckpoint, StepCheckpoint, Throttle
from regconv.training.checkpoint_io import AtomicCheckpointIO
from regconv.training.datamodules import (
    DatasetDataModule,
    GraphDataModule,
    MD17DataModule,
    NBodyDataModule,
    QM9DataModule,
)
from regconv.training.optim import ExponentialMovingAverage, WarmupCosine
from regconv.training.sampling import EpochSampler, ResumableLoader
from regconv.training.spec import TaskSpec, energy_forces_task, nbody_task, qm9_task
from regconv.training.task import RegressionTask

__all__ = [
    "AtomicCheckpointIO",
    "BestCheckpoint",
    "DatasetDataModule",
    "EpochSampler",
    "ExponentialMovingAverage",
    "GraphDataModule",
    "MD17DataModule",
    "NBodyDataModule",
    "QM9DataModule",
    "RegressionTask",
    "ResumableLoader",
    "StepCheckpoint",
    "TaskSpec",
    "Throttle",
    "WarmupCosine",
    "energy_forces_task",
    "nbody_task",
    "qm9_task",
]
