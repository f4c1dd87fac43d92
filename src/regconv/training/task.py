"""The one LightningModule: regression of graph-level invariants, node-level vectors, or
energies with their forces.

:class:`RegressionTask` is generic over a task spec (:mod:`regconv.training.spec`): QM9 (any
subset of its 12 targets, by name), the charged N-body problem, energy + force data
(:mod:`regconv.training.energy_forces`), or your own data.

The model is trained on standardised targets (:mod:`regconv.training.standardise`: statistics
computed once from the training split in ``setup("fit")`` and kept as buffers, so checkpoints
carry them); metrics and predictions are in the units of the data. The optimizer is Adam or AdamW
with linear warm-up and cosine decay per optimizer step (:mod:`regconv.training.schedule`;
gradient clipping is the trainer's); an exponential moving average of the weights (``ema_decay``)
is kept in the module and used for validation, test and prediction. ``rotation_augment`` and
``sign_augment`` rotate the training graphs and flip the sign of their scalar inputs
(:mod:`regconv.training.augment`: reproducible, the same with any number of processes);
``test_rotations=K`` averages test predictions over ``K`` random rotations (node vectors rotated
back first), for models whose equivariance is only approximate (grid fibres).

Predictions go through :func:`regconv.training.inference.predict` (as the ``Predictor``'s do),
losses and errors through :mod:`regconv.training.evaluation`; old checkpoints are upgraded by
:mod:`regconv.training.checkpoint_upgrade`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal

import lightning.pytorch as L
import torch
from torch import Tensor

from regconv import __version__
from regconv.training import checkpoint_upgrade
from regconv.training.augment import augment_batch
from regconv.training.energy_forces import energy_forces
from regconv.training.evaluation import epoch_summary, evaluate_batch, training_losses
from regconv.training.inference import build_task_net, predict, run_seed
from regconv.training.metrics import ErrorSums, PairCollector
from regconv.training.optim import ExponentialMovingAverage, WarmupCosine
from regconv.training.sampling import restore_loader_position
from regconv.training.schedule import optimizer_config, schedule_length
from regconv.training.spec import TaskSpec, qm9_task
from regconv.training.standardise import target_statistics, to_prediction

__all__ = ["RegressionTask"]

_RESERVED = ("num_outputs", "output", "in_features", "vector_in")
_NO_STATISTICS = (
    "no data module with training_targets(): targets are not standardised "
    "(call RegressionTask.set_statistics yourself)"
)


class RegressionTask(L.LightningModule):
    """Train a registry model (:func:`regconv.models.create`) on a regression task.

    The arguments after ``task`` are keyword-only.

    Args:
        model: a registry name (``regconv.models.available()``).
        model_options: constructor options of that model (``hidden``, ``layers``, ``cutoff``,
            ...); unknown names are a ``ValueError``. ``num_outputs``, ``output``,
            ``in_features`` and ``vector_in`` come from the task spec.
        task: the task spec dict (default: QM9 ``homo``); the CLI links it from the data module.
        loss: ``"l1"`` or ``"mse"``, on standardised targets.
        standardize: standardise targets (see the module docstring).
        per_atom: per-atom shift for extensive targets.
        optimizer: ``"adam"`` or ``"adamw"``.
        lr: peak learning rate.
        weight_decay: weight decay (decoupled for AdamW, L2 for Adam).
        warmup_steps: optimizer steps of linear warm-up.
        min_lr_ratio: final learning rate as a fraction of ``lr`` (cosine decay).
        total_steps: length of the schedule in optimizer steps (default: the trainer's
            ``max_epochs`` times the steps per epoch, capped by ``max_steps``).
        ema_decay: decay of the moving average of the weights (``None`` or 0: no EMA).
        rotation_augment: rotate training graphs randomly.
        test_rotations: average test predictions over this many random rotations (0: none).
        seed: seed of the rotations (default: the run seed ``PL_GLOBAL_SEED``, else 0).
        sign_augment: flip the sign of the scalar inputs ``x`` of a random half of the training
            graphs; only for tasks whose targets are invariant under ``x -> -x`` (the N-body
            charges: the forces depend on ``q_i q_j`` alone).
        energy_weight, force_weight: weights of the energy and force losses of energy + force
            tasks (:mod:`regconv.training.energy_forces`; defaults 1 and 100).
        stress_weight: weight of the stress loss of energy + force tasks with a stress target
            (periodic frames; default 10; 0 evaluates the stress without training on it).
    """

    def __init__(
        self,
        model: str = "r3s2",
        model_options: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
        *,
        loss: Literal["l1", "mse"] = "l1",
        standardize: bool = True,
        per_atom: bool = True,
        optimizer: Literal["adam", "adamw"] = "adamw",
        lr: float = 5e-4,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        min_lr_ratio: float = 0.0,
        total_steps: int | None = None,
        ema_decay: float | None = 0.999,
        rotation_augment: bool = False,
        test_rotations: int = 0,
        seed: int | None = None,
        sign_augment: bool = False,
        energy_weight: float = 1.0,
        force_weight: float = 100.0,
        stress_weight: float = 10.0,
    ) -> None:
        super().__init__()
        for ok, problem in (  # the first problem is reported
            (loss in ("l1", "mse"), f"loss must be 'l1' or 'mse', got {loss!r}"),
            (optimizer in ("adam", "adamw"),
             f"optimizer must be 'adam' or 'adamw', got {optimizer!r}"),
            (lr > 0, f"lr must be > 0, got {lr!r}"),
            (weight_decay >= 0, f"weight_decay must be >= 0, got {weight_decay!r}"),
            (warmup_steps >= 0, f"warmup_steps must be >= 0, got {warmup_steps!r}"),
            (test_rotations >= 0, f"test_rotations must be >= 0, got {test_rotations!r}"),
            (energy_weight >= 0 and force_weight >= 0 and energy_weight + force_weight > 0,
             "energy_weight and force_weight must be >= 0, not both 0"),
            (stress_weight >= 0, f"stress_weight must be >= 0, got {stress_weight!r}"),
            (isinstance(sign_augment, bool), f"sign_augment must be a bool, got {sign_augment!r}"),
            (total_steps is None or total_steps >= 1,
             f"total_steps must be >= 1, got {total_steps}"),
            (not ema_decay or 0 < ema_decay < 1,
             f"ema_decay must be in (0, 1) (or None/0 for no EMA), got {ema_decay}"),
        ):  # fmt: skip
            if not ok:
                raise ValueError(problem)
        task = TaskSpec.from_dict(task if task is not None else qm9_task("homo")).to_dict()
        model_options = dict(model_options or {})
        clash = sorted(set(model_options) & set(_RESERVED))
        if clash:
            raise ValueError(
                f"model_options may not set {clash}: they come from the task spec ({task})"
            )
        self.save_hyperparameters()
        self.spec = TaskSpec.from_dict(task)

        self.net = self.build_net(model, model_options)
        self.ema = ExponentialMovingAverage(self.net, ema_decay) if ema_decay else None

        t = len(self.spec.targets)
        per_atom_mask = [per_atom and standardize and x.extensive for x in self.spec.targets]
        self.register_buffer("target_shift", torch.zeros(t))
        self.register_buffer("target_scale", torch.ones(t))
        self.register_buffer("per_atom_mask", torch.tensor(per_atom_mask, dtype=torch.bool))
        self.register_buffer("stats_ready", torch.tensor(False))

        self.val_errors = ErrorSums(t)
        self.test_errors = ErrorSums(t)
        self.test_pairs = PairCollector()
        force_task = self.spec.kind == "energy_forces"
        self.test_force_pairs = PairCollector() if force_task else None
        self.test_stress_pairs = PairCollector() if "stress" in self.spec.names else None
        self.last_results: dict[str, dict[str, Any]] = {}

    def build_net(self, name: str, options: dict[str, Any]) -> torch.nn.Module:
        """The network ``name`` built with ``options`` and the outputs and inputs of the task
        spec (:func:`regconv.training.inference.build_task_net`: the registry model, options of
        earlier releases upgraded). A subclass may override this to train networks outside the
        registry (the budget benchmark does so for PyTorch Geometric's models)."""
        return build_task_net(self.spec, name, options)

    @torch.no_grad()
    def set_statistics(self, targets: dict[str, Tensor]) -> None:
        """Compute the standardisation from the training targets (see
        :meth:`regconv.training.GraphDataModule.training_targets`)."""
        hp = self.hparams
        shift, scale = target_statistics(self.spec, targets, hp.standardize, self.per_atom_mask)
        self.target_shift.copy_(shift.float())
        self.target_scale.copy_(scale.float())
        self.stats_ready.fill_(True)

    def setup(self, stage: str) -> None:
        if stage != "fit" or bool(self.stats_ready):
            return
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None or not hasattr(dm, "training_targets"):
            warnings.warn(_NO_STATISTICS, stacklevel=2)
            return
        self.set_statistics(dm.training_targets())

    @property
    def standardisation(self) -> tuple[Tensor, Tensor, Tensor]:
        """The buffers ``(target_shift, target_scale, per_atom_mask)``, each ``[T]``."""
        return self.target_shift, self.target_scale, self.per_atom_mask

    def to_prediction(self, out: Tensor, batch) -> Tensor:
        """Model output -> prediction in data units: ``[B, T]`` or ``[N, 3]``."""
        return to_prediction(out, batch, self.spec.kind, *self.standardisation)

    @property
    def eval_net(self) -> torch.nn.Module:
        """The network used for evaluation: the EMA copy if there is one."""
        return self.ema.module if self.ema is not None else self.net

    def _seed(self) -> int:
        return run_seed(self.hparams.seed)

    def forward(self, batch, rotations: int | None = None, sign_flips: bool = False) -> Tensor:
        """Predictions in data units with the evaluation (EMA) weights: ``[B, T]`` for graph
        tasks, ``[N, 3]`` positions for node-vector tasks, ``[B, 1]`` energies for energy +
        force tasks (:func:`regconv.training.inference.predict`). ``rotations`` defaults to
        ``test_rotations``; ``sign_flips`` also averages over ``x -> -x``."""
        k = self.hparams.test_rotations if rotations is None else rotations
        return predict(
            self.eval_net, batch, self.spec, *self.standardisation,
            rotations=k, seed=self._seed(), sign_flips=sign_flips,
        )  # fmt: skip

    def energy_forces(self, batch, rotations: int = 0) -> tuple[Tensor, Tensor]:
        """Energies ``[B]`` and forces ``[N, 3]`` in data units (energy + force tasks), with
        the evaluation (EMA) weights (:func:`regconv.training.energy_forces.energy_forces`)."""
        m, s = self.target_shift[0], self.target_scale[0]
        return energy_forces(self.eval_net, batch, m, s, rotations=rotations, seed=self._seed())

    def _augment(self, batch):
        """A copy of ``batch`` with the training augmentations applied
        (:func:`regconv.training.augment.augment_batch`, seeded by the run seed and the step)."""
        hp, trainer = self.hparams, self.trainer
        return augment_batch(
            batch, self._seed() * 1_000_003 + int(self.global_step),
            rotate=hp.rotation_augment, flip_signs=hp.sign_augment,
            rotate_y=self.spec.kind == "node_vector",
            world=trainer.world_size, rank=trainer.global_rank,
        )  # fmt: skip

    def _objective(self) -> tuple[str, tuple[Tensor, Tensor, Tensor], str, tuple[float, ...]]:
        hp = self.hparams
        weights = (hp.energy_weight, hp.force_weight)
        if "stress" in self.spec.names:
            weights += (hp.stress_weight,)
        return self.spec.kind, self.standardisation, hp.loss, weights

    def training_step(self, batch, batch_idx: int) -> Tensor:
        if self.hparams.rotation_augment or self.hparams.sign_augment:
            batch = self._augment(batch)
        loss = training_losses(self.net, batch, *self._objective()).mean()
        size = batch.num_graphs
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size,
                 sync_dist=True)  # fmt: skip
        return loss

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        # right after the step, before any on_train_batch_end hook (checkpoints) runs
        if self.ema is not None:
            self.ema.update(self.net)

    def validation_step(self, batch, batch_idx: int) -> None:
        evaluate_batch(self.eval_net, batch, *self._objective(), self.val_errors)

    def test_step(self, batch, batch_idx: int) -> None:
        k, seed = self.hparams.test_rotations, self._seed() * 7_919 + batch_idx
        evaluate_batch(self.eval_net, batch, *self._objective(), self.test_errors, self.test_pairs,
                       force_pairs=self.test_force_pairs, stress_pairs=self.test_stress_pairs,
                       rotations=k, seed=seed)  # fmt: skip

    def _summarise(self, stage: str, errors: ErrorSums, *pairs: PairCollector | None) -> dict:
        logged, summary = epoch_summary(errors, self.spec, stage, *pairs)
        self.log_dict(logged, sync_dist=True)
        return summary

    def on_validation_epoch_end(self) -> None:
        self.last_results["val"] = self._summarise("val", self.val_errors)

    def on_test_epoch_end(self) -> None:
        summary = self._summarise("test", self.test_errors, self.test_pairs, self.test_force_pairs,
                                  self.test_stress_pairs)  # fmt: skip
        self.last_results["test"] = {**summary, "rotations": int(self.hparams.test_rotations)}

    def lr_schedule(self) -> Callable[[int], float]:
        """The multiplier of ``lr`` at each optimizer step (a ``LambdaLR`` function): linear
        warm-up over ``warmup_steps`` then cosine to ``min_lr_ratio`` at the last step
        (:func:`regconv.training.schedule.schedule_length`). A subclass overrides this for
        another schedule (the budget benchmark: one in time)."""
        hp = self.hparams
        total = schedule_length(self.trainer, hp.total_steps)
        return WarmupCosine(hp.warmup_steps, total, hp.min_lr_ratio)

    def configure_optimizers(self):
        hp = self.hparams
        return optimizer_config(
            self.net.parameters(), hp.optimizer, hp.lr, hp.weight_decay, self.lr_schedule()
        )

    def on_train_start(self) -> None:
        restore_loader_position(self.trainer)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["regconv_version"] = __version__  # what its options' defaults mean

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # A default that changed since the checkpoint was written: build the network it trained
        # (same parameters), and keep its options explicit in the hyperparameters it saves next.
        name, options = self.hparams.model, dict(self.hparams.model_options or {})
        then = checkpoint_upgrade.options_trained(name, options, checkpoint.get("regconv_version"))
        if then is not None:
            self.net = self.build_net(name, then)
            if self.ema is not None:
                self.ema = ExponentialMovingAverage(self.net, self.hparams.ema_decay)
            self.hparams["model_options"] = then
        checkpoint_upgrade.upgrade_parameters(checkpoint)
        checkpoint_upgrade.check_task(checkpoint, self.spec)
