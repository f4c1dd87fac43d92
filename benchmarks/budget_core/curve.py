"""Learning curves of a budget run without spending the budget on them.

:class:`EpochSnapshots` keeps a copy of the evaluation (EMA) weights at the end of every
training epoch, with the optimizer steps, the epochs by steps (the epoch the budget cuts counts
as a fraction) and the training seconds at that moment (from the
:class:`~benchmarks.budget_core.training.Meter`'s start). A copy (to the CPU) costs about a
millisecond, so the model trains as it would without them; :func:`learning_curve` evaluates
every copy after training, on frames the caller chooses (the validation frames: a curve is for
looking, never for choosing on test frames), and puts the final weights back. With ``--jobs``
above 1 that evaluation shares the CPU with the other worker's training, as the test does.
"""

from __future__ import annotations

import time
from typing import Any

import lightning.pytorch as L
import torch

from benchmarks.budget_core.training import Meter

__all__ = ["EpochSnapshots", "learning_curve"]


class EpochSnapshots(L.Callback):
    """Copies of ``pl_module.eval_net``'s weights at every epoch end; ``meter``: the run's
    :class:`Meter` (its start is the curve's zero)."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.snapshots: list[dict[str, Any]] = []

    def _take(self, trainer, pl_module, epoch: float) -> None:
        if self.meter.t0 is None:
            raise RuntimeError("EpochSnapshots needs the Meter before it in the callbacks")
        steps = int(pl_module.global_step)
        if self.snapshots and self.snapshots[-1]["steps"] == steps:
            return
        state = {
            k: v.detach().to("cpu", copy=True) for k, v in pl_module.eval_net.state_dict().items()
        }
        seconds = time.perf_counter() - self.meter.t0
        self.snapshots.append({"epoch": epoch, "steps": steps, "seconds": seconds, "state": state})

    def _epochs(self, trainer, pl_module) -> float:
        # by steps: the epoch the budget cuts (Lightning still ends it) counts as a fraction
        per_epoch = max(1, int(trainer.num_training_batches))
        return round(pl_module.global_step / per_epoch, 3)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._take(trainer, pl_module, self._epochs(trainer, pl_module))

    def on_train_end(self, trainer, pl_module) -> None:
        self._take(trainer, pl_module, self._epochs(trainer, pl_module))


def learning_curve(
    trainer: L.Trainer, task, snapshots: list[dict[str, Any]], loader, n_atoms: int
) -> list[dict[str, float]]:
    """Energy (per atom) and force MAE of every snapshot on ``loader``'s frames, in the data's
    units; ``task``'s evaluation weights are restored afterwards."""
    final = {k: v.detach().clone() for k, v in task.eval_net.state_dict().items()}
    rows = []
    try:
        for snap in snapshots:
            task.eval_net.load_state_dict(snap["state"])
            trainer.test(task, dataloaders=loader, verbose=False)
            res = task.last_results["test"]["targets"]
            rows.append({
                "epoch": snap["epoch"],
                "steps": snap["steps"],
                "seconds": round(snap["seconds"], 2),
                "mae_energy_per_atom": float(res["energy"]["mae"]) / n_atoms,
                "mae_forces": float(res["forces"]["mae"]),
            })  # fmt: skip
    finally:
        with torch.no_grad():
            task.eval_net.load_state_dict(final)
    return rows
