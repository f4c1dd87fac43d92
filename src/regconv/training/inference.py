"""Prediction with a trained model, without Lightning.

:class:`Predictor` is what a checkpoint of :class:`regconv.training.RegressionTask` holds for
prediction: the evaluation network (the EMA copy when there is one), the task spec and the
standardisation buffers. :meth:`Predictor.from_checkpoint` reads it from the checkpoint file
with ``torch.load`` alone, so ``regconv predict``, ``regconv md`` and
:class:`regconv.ase.RegconvCalculator` start without importing Lightning (several seconds of a
cold start). The functions below are the task's own: :class:`RegressionTask` evaluates through
them, so a prediction is the same from either.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from regconv import __version__
from regconv.training.augment import random_rotations, rotate_batch, unrotate_vectors
from regconv.training.energy_forces import energy_forces, energy_forces_stress
from regconv.training.spec import TaskSpec
from regconv.training.standardise import to_prediction

__all__ = ["Predictor", "build_task_net", "model_output", "predict", "run_seed"]


def build_task_net(
    spec: TaskSpec, name: str, options: dict[str, Any], saved_by: str | None = __version__
) -> nn.Module:
    """The registry network ``name`` with ``options`` and the outputs and inputs of ``spec``
    (:func:`regconv.models.create`); options saved by an earlier release ``saved_by`` (None: a
    checkpoint that does not say, release 0.1) are mapped to today's, old defaults included
    (:func:`regconv.models.legacy.upgrade_options`). The linear tabulated kernel is refused for
    energy + force tasks (piecewise-constant forces); the quadratic and cubic ones are C¹."""
    from regconv import models
    from regconv.models.legacy import upgrade_options

    name, options = upgrade_options(name, options, saved_by)
    net = models.create(
        name,
        num_outputs=spec.num_outputs,
        output=spec.model_output,
        in_features=spec.in_features,
        vector_in=spec.vector_in,
        **options,
    )
    # the model's own table (its defaults included), not only the options given
    table = getattr(net, "table", None)  # a regconv.kernels.TableSpec, or None: exact kernel
    if spec.kind == "energy_forces" and table is not None and not table.smooth:
        raise ValueError(
            "table: the linear tabulated kernel is piecewise linear in the invariants, so its "
            "forces would be piecewise constant; train on forces with the exact kernel "
            "(table: null; SchNet's table_step: null) or a C¹ one (table: {order: cubic} or "
            "quadratic; SchNet's table_order: cubic or quadratic)"
        )
    return net


def run_seed(seed: int | None) -> int:
    """The seed of test-time rotations: ``seed``, else the run seed ``PL_GLOBAL_SEED``, else 0."""
    return int(seed) if seed is not None else int(os.environ.get("PL_GLOBAL_SEED", 0))


def model_output(
    net: nn.Module,
    batch,
    kind: str,
    rotations: int = 0,
    seed: int = 0,
    sign_flips: bool = False,
) -> Tensor:
    """Standardised output of ``net``, optionally averaged over ``rotations`` random rotations
    of every graph (invariant outputs as they are, node vectors (``kind`` ``"node_vector"``)
    rotated back first) and, with ``sign_flips``, over the sign of the scalar inputs ``x``
    (twice the evaluations)."""
    if sign_flips:
        if getattr(batch, "x", None) is None:
            raise ValueError("sign_flips needs scalar input features batch.x")
        flipped = batch.clone()
        flipped.x = -batch.x
        both = [model_output(net, b, kind, rotations, seed) for b in (batch, flipped)]
        return 0.5 * (both[0] + both[1])
    if rotations <= 0:
        return net(batch)
    g = torch.Generator()
    g.manual_seed(seed)
    total = None
    for _ in range(rotations):
        rot = random_rotations(batch.num_graphs, g)
        out = net(rotate_batch(batch, rot))
        if kind == "node_vector":
            out = unrotate_vectors(out, rot, batch)
        total = out if total is None else total + out
    return total / rotations


def predict(
    net: nn.Module,
    batch,
    spec: TaskSpec,
    shift: Tensor,
    scale: Tensor,
    per_atom_mask: Tensor,
    *,
    rotations: int = 0,
    seed: int = 0,
    sign_flips: bool = False,
) -> Tensor:
    """Predictions of ``net`` in data units (the standardisation buffers ``shift``, ``scale``,
    ``per_atom_mask`` ``[T]``): ``[B, T]`` graph targets, ``[N, 3]`` positions, or ``[B, 1]``
    energies (:func:`regconv.training.energy_forces.energy_forces`), averaged over ``rotations``
    random rotations and, with ``sign_flips``, the sign of the scalar inputs
    (:func:`model_output`). The task and :class:`Predictor` both predict through it."""
    if spec.kind == "energy_forces":
        e, _ = energy_forces(net, batch, shift[0], scale[0], rotations=rotations, seed=seed)
        return e.unsqueeze(-1)  # [B, 1]
    raw = model_output(net, batch, spec.kind, rotations, seed, sign_flips)
    return to_prediction(raw, batch, spec.kind, shift, scale, per_atom_mask)


class Predictor(nn.Module):
    """A trained model for prediction: ``forward(batch)`` gives predictions in data units
    (``[B, T]`` graph targets, ``[N, 3]`` positions, or ``[B, 1]`` energies),
    :meth:`energy_forces` energies ``[B]`` and forces ``[N, 3]`` of energy + force models.

    Args:
        net: the evaluation network.
        spec: the task spec it was trained on.
        shift, scale, per_atom_mask: the standardisation buffers ``[T]``.
        test_rotations: default number of random rotations to average over.
        seed: seed of those rotations (None: :func:`run_seed`).
    """

    def __init__(
        self,
        net: nn.Module,
        spec: TaskSpec,
        shift: Tensor,
        scale: Tensor,
        per_atom_mask: Tensor,
        *,
        test_rotations: int = 0,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.spec = spec
        self.register_buffer("target_shift", shift.detach().clone())
        self.register_buffer("target_scale", scale.detach().clone())
        self.register_buffer("per_atom_mask", per_atom_mask.detach().clone().bool())
        self.test_rotations = int(test_rotations)
        self.seed = seed

    def forward(self, batch, rotations: int | None = None, sign_flips: bool = False) -> Tensor:
        k = self.test_rotations if rotations is None else rotations
        buffers = (self.target_shift, self.target_scale, self.per_atom_mask)
        seed = run_seed(self.seed)
        return predict(
            self.net, batch, self.spec, *buffers, rotations=k, seed=seed, sign_flips=sign_flips
        )

    @property
    def has_atom_energies(self) -> bool:
        """Whether the network's energy is a sum of per-atom contributions it can report: a
        :class:`regconv.nn.GraphScalarReadout` with ``pooling="sum"`` (the fibre models,
        ``schnet``, ``egnn``; not the edge-output models, whose contributions are per edge)."""
        from regconv.nn.readout import GraphScalarReadout

        readout = getattr(self.net, "readout", None)
        return isinstance(readout, GraphScalarReadout) and readout.pooling == "sum"

    def energy_forces(self, batch, rotations: int = 0) -> tuple[Tensor, Tensor]:
        """Energies ``[B]`` and forces ``[N, 3]`` in data units (energy + force tasks)."""
        out = self.potential(batch, rotations)
        return out["energy"], out["forces"]

    def atom_energies(self, batch, rotations: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """Energies ``[B]``, forces ``[N, 3]`` and per-atom energies ``[N]`` (data units; they
        add up to the energies: ``s u_i + m`` with the per-atom shift ``m``), averaged over the
        same ``rotations``. ``ValueError`` unless :attr:`has_atom_energies`."""
        out = self.potential(batch, rotations, atom_energies=True)
        return out["energy"], out["forces"], out["energies"]

    def potential(
        self, batch, rotations: int = 0, *, stress: bool = False, atom_energies: bool = False
    ) -> dict[str, Tensor]:
        """What a potential gives, in data units, detached: ``energy [B]``, ``forces [N, 3]``,
        with ``stress`` the ``stress [B, 3, 3]`` (energy unit per Å^3; graphs periodic along
        all three axes, :func:`regconv.training.energy_forces.energy_forces_stress`), with
        ``atom_energies`` the per-atom ``energies [N]`` (``ValueError`` unless
        :attr:`has_atom_energies`); averaged over ``rotations`` seeded rotations."""
        if atom_energies and not self.has_atom_energies:
            raise ValueError(
                f"{type(self.net).__name__} has no per-atom energies (its energy is not a sum of "
                "atom contributions read out by GraphScalarReadout with pooling='sum')"
            )
        m, s = self.target_shift[0], self.target_scale[0]
        seed = run_seed(self.seed)
        parts: list[Tensor] = []

        def keep(module, inputs, output) -> None:  # the readout's input features, per call
            parts.append(module.node_values(inputs[0]).detach()[:, 0])

        handle = self.net.readout.register_forward_hook(keep) if atom_energies else None
        try:
            if stress:
                e, f, sigma = energy_forces_stress(self.net, batch, m, s, rotations=rotations,
                                                   seed=seed)  # fmt: skip
                out = {"energy": e, "forces": f, "stress": sigma}
            else:
                e, f = energy_forces(self.net, batch, m, s, rotations=rotations, seed=seed)
                out = {"energy": e, "forces": f}
        finally:
            if handle is not None:
                handle.remove()
        if atom_energies:
            u_atoms = torch.stack(parts).mean(0)  # [N], the mean over the rotations
            out["energies"] = s * u_atoms + m
        return out

    @classmethod
    def from_checkpoint(
        cls,
        path: str | os.PathLike,
        map_location: str | torch.device = "cpu",
        model_options: dict[str, Any] | None = None,
    ) -> Predictor:
        """The predictor of a :class:`regconv.training.RegressionTask` checkpoint (the EMA
        weights when the run kept an average); ``ValueError`` for a file that is not one.

        ``model_options`` replace saved options of the model that leave its ``state_dict``
        alone, merged component by component (:func:`regconv.models.merge_option`): e.g.
        ``{"table": None}`` runs a model trained with a tabulated kernel on the exact one, or
        ``{"table": {"order": "cubic_bspline"}}`` on a C² table (energy-conserving MD)."""
        from regconv import models
        from regconv.models.legacy import upgrade_options, upgrade_state_dict

        ckpt = torch.load(Path(path), map_location=map_location, weights_only=False)
        if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
            raise ValueError(f"{path}: no state_dict (not a Lightning checkpoint)")
        hp = ckpt.get("hyper_parameters")
        if not isinstance(hp, dict) or "task" not in hp or "model" not in hp:
            raise ValueError(f"{path}: no model and task in its hyper_parameters")
        spec = TaskSpec.from_dict(hp["task"])
        options = dict(hp.get("model_options") or {})
        name, saved_by = hp["model"], ckpt.get("regconv_version")
        if model_options:
            name, options = upgrade_options(name, options, saved_by)
            for key, value in model_options.items():
                options[key] = models.merge_option(options.get(key), value)
            saved_by = __version__  # the options are today's now
        net = build_task_net(spec, name, options, saved_by)
        state = ckpt["state_dict"]
        prefix = "ema.module." if hp.get("ema_decay") else "net."
        state = upgrade_state_dict(state, prefix)
        weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        net.load_state_dict(weights)
        try:
            buffers = [state[k] for k in ("target_shift", "target_scale", "per_atom_mask")]
        except KeyError as e:
            raise ValueError(f"{path}: no standardisation buffer {e}") from None
        net.to(buffers[0].device)
        predictor = cls(
            net, spec, *buffers, test_rotations=int(hp.get("test_rotations") or 0),
            seed=hp.get("seed"),
        )  # fmt: skip
        return predictor.eval()
