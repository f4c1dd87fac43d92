"""Training under a wall-clock budget: the task with a schedule in time, its trainer and meter."""

from __future__ import annotations

import datetime
import logging
import time
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import lightning.pytorch as L
import torch

from regconv.training import RegressionTask
from regconv.training.optim import TimeWarmupCosine

__all__ = ["BudgetTask", "Meter", "budget_trainer", "quiet_lightning"]


class BudgetTask(RegressionTask):
    """:class:`regconv.training.RegressionTask` with the time-fraction schedule
    :class:`~regconv.training.optim.TimeWarmupCosine` over ``budget_s`` seconds (warm-up over
    ``warmup_fraction`` of the budget, cosine to ``min_lr_ratio`` at its end, whatever the
    model's speed). Everything else (standardisation, the loss, EMA, metrics, the optimizer, the
    training and test steps) is the task's. A subclass may name networks outside the registry
    in :attr:`EXTRA_NETS` (graph invariants from atomic numbers, built with ``num_outputs``)."""

    #: hyperparameters of the time schedule, which :class:`RegressionTask` does not take
    SCHEDULE_KEYS = ("budget_s", "warmup_fraction")
    #: networks outside the registry by name (none here)
    EXTRA_NETS: Mapping[str, type[torch.nn.Module]] = {}

    def __init__(
        self,
        model: str = "r3",
        model_options: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        *,
        optimizer: Literal["adam", "adamw"] = "adamw",
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        ema_decay: float | None = 0.999,
        seed: int = 0,
        budget_s: float = 60.0,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.0,
        loss: Literal["l1", "mse"] = "l1",
        rotation_augment: bool = False,
        energy_weight: float = 1.0,
        force_weight: float = 100.0,
        stress_weight: float = 10.0,
    ) -> None:
        super().__init__(
            model=model,
            model_options=model_options,
            task=task,
            loss=loss,
            standardize=True,
            per_atom=True,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            min_lr_ratio=min_lr_ratio,
            ema_decay=ema_decay,
            rotation_augment=rotation_augment,
            seed=seed,
            energy_weight=energy_weight,
            force_weight=force_weight,
            stress_weight=stress_weight,
        )
        self.schedule = TimeWarmupCosine(budget_s, warmup_fraction, min_lr_ratio)

    def build_net(self, name: str, options: dict[str, Any]) -> torch.nn.Module:
        if name not in self.EXTRA_NETS:
            return super().build_net(name, options)
        spec = self.spec
        if spec.kind != "graph" or spec.in_features or spec.vector_in:
            raise ValueError(
                f"{name} predicts graph invariants from atomic numbers only; this task is "
                f"{spec.to_dict()}"
            )
        return self.EXTRA_NETS[name](num_outputs=spec.num_outputs, **options)

    def lr_schedule(self) -> TimeWarmupCosine:
        """The time-fraction schedule (its clock starts with the training)."""
        return self.schedule

    def on_train_start(self) -> None:
        super().on_train_start()
        self.schedule.start()


def quiet_lightning() -> None:
    """Lightning's info messages and its warnings about small data sets off."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*number of training batches.*")
    warnings.filterwarnings("ignore", message=r".*`isinstance\(treespec, LeafSpec\)`.*")
    warnings.filterwarnings("ignore", message=r".*You defined a `validation_step`.*")


class Meter(L.Callback):
    """Training molecules, the loss of every step and the start and end of the training."""

    def __init__(self) -> None:
        self.molecules = 0
        self.losses: list[float] = []
        self.t0 = self.t1 = None

    def on_train_start(self, trainer, pl_module) -> None:
        self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.molecules += int(batch.num_graphs)
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self.losses.append(float(loss))

    def on_train_end(self, trainer, pl_module) -> None:
        self.t1 = time.perf_counter()


def budget_trainer(
    budget_s: float, meter: Meter, accelerator: str = "cpu", extra: tuple[L.Callback, ...] = ()
) -> L.Trainer:
    """The trainer of one budget run: ``max_time`` the budget, no validation, gradient clipping
    at 10, no logger, checkpoints or progress bar; ``meter`` measures it; ``extra`` callbacks run
    after it (e.g. :class:`~benchmarks.budget_core.curve.EpochSnapshots`)."""
    return L.Trainer(
        accelerator=accelerator,
        devices=1,
        max_time=datetime.timedelta(seconds=budget_s),
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        gradient_clip_val=10.0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[meter, *extra],
    )
