"""The one LightningModule: regression of graph-level invariants, node-level vectors, or
energies with their forces.

:class:`RegressionTask` is generic over a task spec (:mod:`regconv.training.spec`): QM9 (any
subset of its 12 targets, by name), the charged N-body problem, energy + force data
(:mod:`regconv.training.energy_forces`), or your own data.

Standardisation
---------------
The model is trained on standardised targets; the statistics are computed once from the training
split (``setup("fit")``, :mod:`regconv.training.standardise`) and stored as buffers, so
checkpoints carry them. Metrics and predictions are always in the units of the data (for QM9:
the units of the published tables). Graph targets: ``pred = out * scale + shift`` (extensive
targets with ``per_atom=True``: ``shift = n_atoms * m``, ``m`` the per-atom mean: the model
predicts a size-independent, unit-variance correction); node vectors (N-body):
``pred = base + scale * out[:, 0]`` with ``base`` the batch's optional reference prediction
``batch.base [N, 3]`` (default ``pos``); no shift (equivariance). ``standardize=False`` uses
``shift = 0`` and ``scale = 1``.

Optimisation
------------
Adam or AdamW with linear warm-up and cosine decay, stepped per optimizer step; gradient clipping
is the trainer's (``trainer.gradient_clip_val``). An exponential moving average of the weights
(``ema_decay``) is kept in the module (so in every checkpoint, and restored on resume) and used for
validation, test and prediction.

Rotations
---------
``rotation_augment`` rotates every training graph by a random rotation (drawn from a generator
seeded by ``(seed, step)``: reproducible and the same with any number of processes).
``sign_augment`` flips the sign of the scalar inputs of a random half of the training graphs
(same generator), for targets invariant under that flip (N-body charges).
``test_rotations=K`` averages test predictions over ``K`` random rotations (node vectors are
rotated back first); useful for models whose equivariance is only approximate (grid fibres).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Literal

import lightning.pytorch as L
import torch
from torch import Tensor

from regconv.training.augment import random_rotations, rotate_batch
from regconv.training.energy_forces import (
    energy_force_losses,
    energy_force_predictions,
    standardised_energy_forces,
    update_energy_force_errors,
)
from regconv.training.inference import (
    build_task_net,
    graph_shift,
    model_output,
    run_seed,
    to_prediction,
)
from regconv.training.metrics import ErrorSums, PairCollector
from regconv.training.optim import ExponentialMovingAverage, WarmupCosine
from regconv.training.spec import TaskSpec, qm9_task, reference_positions
from regconv.training.standardise import target_statistics

__all__ = ["RegressionTask"]

_RESERVED = ("num_outputs", "output", "in_features", "vector_in")


class RegressionTask(L.LightningModule):
    """Train a registry model (:func:`regconv.models.create`) on a regression task.

    Args:
        model: registry name (``regconv.models.available()``: ``r3``, ``r3s2``, ``r3s2-edge``,
            ``se3``).
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
        sign_augment: flip the sign of the scalar inputs ``x`` of a random half of the training
            graphs; only for tasks whose targets are invariant under ``x -> -x`` (the N-body
            charges: the forces depend on ``q_i q_j`` alone).
        test_rotations: average test predictions over this many random rotations (0: none).
        seed: seed of the rotations (default: the run seed ``PL_GLOBAL_SEED``, else 0).
        energy_weight, force_weight: weights of the energy and force losses of energy + force
            tasks (:mod:`regconv.training.energy_forces`; defaults 1 and 100).
    """

    def __init__(
        self,
        model: str = "r3s2",
        model_options: dict[str, Any] | None = None,
        task: dict[str, Any] | None = None,
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
    ) -> None:
        super().__init__()
        if loss not in ("l1", "mse"):
            raise ValueError(f"loss must be 'l1' or 'mse', got {loss!r}")
        if optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be 'adam' or 'adamw', got {optimizer!r}")
        if lr <= 0 or weight_decay < 0 or warmup_steps < 0 or test_rotations < 0:
            raise ValueError(
                "need lr > 0, weight_decay >= 0, warmup_steps >= 0, test_rotations >= 0"
            )
        if not (energy_weight >= 0 and force_weight >= 0 and energy_weight + force_weight > 0):
            raise ValueError("energy_weight and force_weight must be >= 0, not both 0")
        if not isinstance(sign_augment, bool):
            raise ValueError(f"sign_augment must be a bool, got {sign_augment!r}")
        if total_steps is not None and total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if ema_decay is not None and ema_decay != 0 and not 0 < ema_decay < 1:
            raise ValueError(f"ema_decay must be in (0, 1) (or None/0 for no EMA), got {ema_decay}")
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
        self.last_results: dict[str, dict[str, Any]] = {}

    def build_net(self, name: str, options: dict[str, Any]) -> torch.nn.Module:
        """The network ``name`` built with ``options`` and the outputs and inputs of the task
        spec (:func:`regconv.training.inference.build_task_net`: the registry model, options of
        earlier releases upgraded). A subclass may override this to train networks outside the
        registry (the budget benchmark does so for PyTorch Geometric's models,
        :mod:`regconv.bench.budget`)."""
        return build_task_net(self.spec, name, options)

    # ------------------------------------------------------------------------------------------
    # standardisation
    # ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def set_statistics(self, targets: dict[str, Tensor]) -> None:
        """Compute the standardisation from the training targets (see
        :meth:`regconv.training.GraphDataModule.training_targets`)."""
        shift, scale = target_statistics(
            self.spec, targets, self.hparams.standardize, self.per_atom_mask
        )
        self.target_shift.copy_(shift.float())
        self.target_scale.copy_(scale.float())
        self.stats_ready.fill_(True)

    def setup(self, stage: str) -> None:
        if stage != "fit" or bool(self.stats_ready):
            return
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None or not hasattr(dm, "training_targets"):
            warnings.warn(
                "no data module with training_targets(): targets are not standardised "
                "(call RegressionTask.set_statistics yourself)",
                stacklevel=2,
            )
            return
        self.set_statistics(dm.training_targets())

    def _shift(self, batch) -> Tensor:
        """``[B, T]`` additive part of the graph prediction (data units)."""
        return graph_shift(batch, self.target_shift, self.per_atom_mask)

    def to_prediction(self, out: Tensor, batch) -> Tensor:
        """Model output -> prediction in data units: ``[B, T]`` or ``[N, 3]``."""
        return to_prediction(
            out, batch, self.spec.kind, self.target_shift, self.target_scale, self.per_atom_mask
        )

    def _normalised_target(self, batch) -> Tensor:
        if self.spec.kind == "graph":
            y = batch.y.reshape(batch.num_graphs, -1)
            return (y - self._shift(batch)) / self.target_scale
        return (batch.y - reference_positions(batch)) / self.target_scale

    def _item_losses(self, out: Tensor, batch) -> Tensor:
        """Per-item loss on standardised targets: ``[B]`` (graph) or ``[N]`` (node)."""
        target = self._normalised_target(batch)
        diff = (out if self.spec.kind == "graph" else out[:, 0]) - target
        err = diff.abs() if self.hparams.loss == "l1" else diff.square()
        return err.mean(-1)

    # ------------------------------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------------------------------
    @property
    def eval_net(self) -> torch.nn.Module:
        """The network used for evaluation: the EMA copy if there is one."""
        return self.ema.module if self.ema is not None else self.net

    def _seed(self) -> int:
        return run_seed(self.hparams.seed)

    def raw_output(
        self,
        batch,
        net: torch.nn.Module | None = None,
        rotations: int = 0,
        seed: int = 0,
        sign_flips: bool = False,
    ) -> Tensor:
        """Model output (standardised) of ``net`` (default: the evaluation network), averaged
        over ``rotations`` random rotations and, with ``sign_flips``, over the sign of the
        scalar inputs (:func:`regconv.training.inference.model_output`)."""
        net = net if net is not None else self.eval_net
        return model_output(net, batch, self.spec.kind, rotations, seed, sign_flips)

    def forward(self, batch, rotations: int | None = None, sign_flips: bool = False) -> Tensor:
        """Predictions in data units with the evaluation (EMA) weights: ``[B, T]`` for graph
        tasks, ``[N, 3]`` positions for node-vector tasks. ``rotations`` defaults to
        ``test_rotations``; ``sign_flips`` also averages over ``x -> -x`` (see
        :meth:`raw_output`)."""
        k = self.hparams.test_rotations if rotations is None else rotations
        if self.spec.kind == "energy_forces":
            return self.energy_forces(batch, rotations=k)[0].unsqueeze(-1)  # [B, 1]
        raw = self.raw_output(batch, rotations=k, seed=self._seed(), sign_flips=sign_flips)
        return self.to_prediction(raw, batch)

    # ------------------------------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------------------------------
    def _augment(self, batch):
        """A copy of ``batch`` with the training augmentations applied (the caller's batch is
        not modified)."""
        world, rank = self.trainer.world_size, self.trainer.global_rank
        g = torch.Generator()
        g.manual_seed(self._seed() * 1_000_003 + int(self.global_step))
        # one draw per graph of the *global* batch; the samplers interleave the ranks, so
        # global item j*world + rank is item j of this rank: the same draws as one process
        rot = random_rotations(world * batch.num_graphs, g)[rank::world]
        flip = torch.rand(world * batch.num_graphs, generator=g)[rank::world] < 0.5  # [B]
        if self.hparams.rotation_augment:
            batch = rotate_batch(batch, rot, rotate_y=self.spec.kind == "node_vector")
        else:
            batch = batch.clone()
        if self.hparams.sign_augment:
            x = getattr(batch, "x", None)
            if x is None:
                raise ValueError("sign_augment needs scalar input features batch.x")
            graph = getattr(batch, "batch", None)
            per_node = flip[graph] if graph is not None else flip[:1].expand(x.shape[0])
            sign = 1.0 - 2.0 * per_node.to(x.dtype)  # [N]
            batch.x = x * sign.view(-1, *([1] * (x.dim() - 1)))
        return batch

    def energy_forces(self, batch, rotations: int = 0, net=None) -> tuple[Tensor, Tensor]:
        """Energies ``[B]`` and forces ``[N, 3]`` in data units (energy + force tasks), with
        the evaluation (EMA) weights unless ``net`` is given."""
        u, f = standardised_energy_forces(
            net or self.eval_net, batch, create_graph=False, rotations=rotations, seed=self._seed()
        )
        e, f = energy_force_predictions(u, f, batch, self.target_shift[0], self.target_scale[0])
        return e.detach(), f.detach()

    def _energy_force_loss(self, batch, net, create_graph: bool, rotations: int = 0, seed: int = 0):
        u, f = standardised_energy_forces(
            net, batch, create_graph=create_graph, rotations=rotations, seed=seed
        )
        hp, m, s = self.hparams, self.target_shift[0], self.target_scale[0]
        losses = energy_force_losses(u, f, batch, m, s, hp.loss, hp.energy_weight, hp.force_weight)
        return u, f, losses

    def training_step(self, batch, batch_idx: int) -> Tensor:
        if self.hparams.rotation_augment or self.hparams.sign_augment:
            batch = self._augment(batch)
        if self.spec.kind == "energy_forces":
            loss = self._energy_force_loss(batch, self.net, create_graph=True)[2].mean()
        else:
            out = self.net(batch)
            loss = self._item_losses(out, batch).mean()
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=batch.num_graphs,
            sync_dist=True,
        )
        return loss

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        # right after the step, before any on_train_batch_end hook (checkpoints) runs
        if self.ema is not None:
            self.ema.update(self.net)

    def _weights(self, batch) -> Tensor:
        w = getattr(batch, "weight", None)
        if w is None:
            w = torch.ones(batch.num_graphs, device=batch.pos.device)
        w = w.reshape(-1).to(batch.pos.dtype)
        if self.spec.kind == "node_vector":
            w = (
                w[batch.batch]
                if getattr(batch, "batch", None) is not None
                else w.expand(batch.pos.shape[0])
            )
        return w

    def _evaluate(self, batch, errors: ErrorSums, rotations: int, seed: int, pairs=None) -> None:
        if self.spec.kind == "energy_forces":
            u, f, losses = self._energy_force_loss(batch, self.eval_net, False, rotations, seed)
            m, s = self.target_shift[0], self.target_scale[0]
            w = self._weights(batch)
            update_energy_force_errors(errors, pairs, u, f, batch, w, losses, m, s)
            return
        out = self.raw_output(batch, self.eval_net, rotations=rotations, seed=seed)
        pred = self.to_prediction(out, batch)
        w = self._weights(batch)
        losses = self._item_losses(out, batch)
        if self.spec.kind == "graph":
            true = batch.y.reshape(batch.num_graphs, -1)
            err = (pred - true)[:, :, None]  # [B, T, 1]
        else:
            true = batch.y
            err = (pred - true)[:, None, :]  # [N, 1, 3]
        errors.update(err, w, losses)
        if pairs is not None:
            pairs.update(pred, true, w)

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate(batch, self.val_errors, rotations=0, seed=0)

    def test_step(self, batch, batch_idx: int) -> None:
        seed = self._seed() * 7_919 + batch_idx
        self._evaluate(batch, self.test_errors, self.hparams.test_rotations, seed, self.test_pairs)

    def predict_step(self, batch, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        return self(batch)

    def _summarise(self, stage: str, errors: ErrorSums) -> dict[str, Any]:
        res = errors.compute()
        errors.reset()
        # torchmetrics squeezes one-element results to scalars
        res = {k: v.reshape(-1) if k in ("mae", "mse") else v for k, v in res.items()}
        logged = {f"{stage}/loss": res["loss"].float()}
        per_target = {}
        for j, t in enumerate(self.spec.targets):
            mae, mse = float(res["mae"][j]), float(res["mse"][j])
            logged[t.metric_name(stage, "mae")] = res["mae"][j].float()
            if self.spec.kind == "node_vector":
                logged[t.metric_name(stage, "mse")] = res["mse"][j].float()
            per_target[t.name] = {
                "mae": mae,
                "rmse": math.sqrt(mse),
                "mse": mse,
                "unit": t.unit,
                "mse_unit": f"({t.unit})^2" if t.unit else "",
            }
        self.log_dict(logged, sync_dist=True)
        return {
            "loss": float(res["loss"]),
            "count": int(round(float(res["count"]))),
            "targets": per_target,
        }

    def on_validation_epoch_end(self) -> None:
        self.last_results["val"] = self._summarise("val", self.val_errors)

    def on_test_epoch_end(self) -> None:
        summary = self._summarise("test", self.test_errors)
        pred, true = self.test_pairs.compute()
        self.test_pairs.reset()
        summary["pred"], summary["true"] = pred.cpu(), true.cpu()
        summary["rotations"] = int(self.hparams.test_rotations)
        self.last_results["test"] = summary

    # ------------------------------------------------------------------------------------------
    # optimizer
    # ------------------------------------------------------------------------------------------
    def _total_steps(self) -> int:
        hp = self.hparams
        if hp.total_steps is not None:
            return int(hp.total_steps)
        trainer = self.trainer
        max_steps = trainer.max_steps if trainer.max_steps not in (None, -1) else None
        max_epochs = trainer.max_epochs if trainer.max_epochs not in (None, -1) else None
        dm = getattr(trainer, "datamodule", None)
        if max_epochs is not None and dm is not None and hasattr(dm, "train_dataloader"):
            # A separate loader instance: asking the trainer (estimated_stepping_batches) would
            # set up its train loader before a checkpoint is restored, and Lightning would then
            # never restore the loader's position (mid-epoch resume).
            batches = len(dm.train_dataloader())
            limit = trainer.limit_train_batches
            if isinstance(limit, int):
                batches = min(batches, limit)
            elif limit is not None:
                batches = int(batches * float(limit))
            per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
            total = per_epoch * max(1, max_epochs)
            return max(1, min(total, max_steps) if max_steps is not None else total)
        if max_steps is not None:
            return int(max_steps)
        est = trainer.estimated_stepping_batches
        if not math.isfinite(est):
            raise ValueError("set trainer.max_epochs, trainer.max_steps or model.total_steps")
        return max(1, int(est))

    def lr_schedule(self) -> Callable[[int], float]:
        """The multiplier of ``lr`` at each optimizer step (a ``LambdaLR`` function): linear
        warm-up over ``warmup_steps`` then cosine to ``min_lr_ratio`` at the last step. A
        subclass overrides this for another schedule (the budget benchmark: one in time)."""
        hp = self.hparams
        return WarmupCosine(hp.warmup_steps, self._total_steps(), hp.min_lr_ratio)

    def configure_optimizers(self):
        hp = self.hparams
        cls = torch.optim.AdamW if hp.optimizer == "adamw" else torch.optim.Adam
        opt = cls(self.net.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, self.lr_schedule())
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def on_train_start(self) -> None:
        # Safety net for mid-epoch resume: if something set up the train loader before the
        # checkpoint was restored, Lightning skips restoring the loader's position; do it here.
        fit_loop = self.trainer.fit_loop
        pending = getattr(fit_loop, "_combined_loader_states_to_load", None)
        if pending and fit_loop._combined_loader is not None:
            fit_loop._combined_loader._load_state_dicts(pending)
            fit_loop._combined_loader_states_to_load = []

    # ------------------------------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from regconv import __version__

        checkpoint["regconv_version"] = __version__  # what its options' defaults mean

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from regconv import __version__
        from regconv.models.legacy import upgrade_options, upgrade_state_dict

        # A default that changed since the checkpoint was written: build the network it trained
        # (same parameters), and keep its options explicit in the hyperparameters it saves next.
        name, options = self.hparams.model, dict(self.hparams.model_options or {})
        _, then = upgrade_options(name, options, checkpoint.get("regconv_version"))
        _, now = upgrade_options(name, options, __version__)
        if then != now:
            self.net = self.build_net(name, then)
            if self.ema is not None:
                self.ema = ExponentialMovingAverage(self.net, self.hparams.ema_decay)
            self.hparams["model_options"] = then

        if "state_dict" in checkpoint:  # parameters renamed since the checkpoint was written
            for prefix in ("net.", "ema.module."):  # the network and its moving average
                checkpoint["state_dict"] = upgrade_state_dict(checkpoint["state_dict"], prefix)
        saved = checkpoint.get("hyper_parameters", {}).get("task")
        if saved is not None and TaskSpec.from_dict(saved) != self.spec:
            raise ValueError(
                f"the checkpoint was trained on task {TaskSpec.from_dict(saved).to_dict()}, "
                f"but this run's task is {self.spec.to_dict()}"
            )
