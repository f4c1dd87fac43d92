"""The budget benchmark's LightningModule: ``RegressionTask`` with the PyG references and a
schedule in time."""

from __future__ import annotations

from typing import Any, Literal

import torch

from regconv.bench.budget.specs import references
from regconv.training import RegressionTask
from regconv.training.optim import TimeWarmupCosine

__all__ = ["BudgetTask"]


class BudgetTask(RegressionTask):
    """:class:`regconv.training.RegressionTask` with (1) the PyG references as extra networks
    (only here, not in the registry) and (2) the time-fraction schedule
    :class:`~regconv.training.optim.TimeWarmupCosine` over ``budget_s`` seconds. Everything else
    (standardisation, the loss (L1 by default), EMA, metrics, the optimizer, the training and
    test steps) is the task's; the energy + force benchmark (:mod:`regconv.bench.pes_budget`)
    sets ``loss``, ``rotation_augment`` and the two loss weights."""

    #: hyperparameters of the time schedule, which :class:`RegressionTask` does not take
    SCHEDULE_KEYS = ("budget_s", "warmup_fraction")

    def __init__(
        self,
        model: str = "r3",
        model_options: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        optimizer: Literal["adam", "adamw"] = "adamw",
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        ema_decay: float | None = 0.999,
        seed: int = 0,
        budget_s: float = 60.0,
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.0,
        *,
        loss: Literal["l1", "mse"] = "l1",
        rotation_augment: bool = False,
        energy_weight: float = 1.0,
        force_weight: float = 100.0,
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
        )
        self.schedule = TimeWarmupCosine(budget_s, warmup_fraction, min_lr_ratio)

    def build_net(self, name: str, options: dict[str, Any]) -> torch.nn.Module:
        refs = references()
        if name not in refs:
            return super().build_net(name, options)
        spec = self.spec
        if spec.kind != "graph" or spec.in_features or spec.vector_in:
            raise ValueError(
                f"{name} predicts graph invariants from atomic numbers only; this task is "
                f"{spec.to_dict()}"
            )
        return refs[name](num_outputs=spec.num_outputs, **options)

    def lr_schedule(self) -> TimeWarmupCosine:
        """The time-fraction schedule (its clock starts with the training)."""
        return self.schedule

    def on_train_start(self) -> None:
        super().on_train_start()
        self.schedule.start()
