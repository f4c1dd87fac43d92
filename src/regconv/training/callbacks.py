"""Checkpoint callbacks of a run, and a throttle for demonstrations and tests."""

from __future__ import annotations

import os
import time
from pathlib import Path

import lightning.pytorch as L
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

__all__ = ["BestCheckpoint", "StepCheckpoint", "Throttle", "remove_stale_temporaries"]


class _RunCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose ``ckpt_path="last"`` lookup only considers complete
    ``last*.ckpt`` files (never the temporaries of an interrupted atomic write)."""

    def _find_last_checkpoints(self, trainer: L.Trainer) -> set[str]:
        found = super()._find_last_checkpoints(trainer)
        return {
            p
            for p in found
            if os.path.basename(p).startswith(self.CHECKPOINT_NAME_LAST)
            and p.endswith(self.FILE_EXTENSION)
        }


class BestCheckpoint(_RunCheckpoint):
    """``best.ckpt`` (lowest ``val/loss``, overwritten in place) and ``last.ckpt`` after every
    validation."""

    def __init__(self, dirpath: str | Path, monitor: str = "val/loss") -> None:
        super().__init__(
            dirpath=str(dirpath),
            filename="best",
            monitor=monitor,
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )


class StepCheckpoint(_RunCheckpoint):
    """``last.ckpt`` every ``every_n_train_steps`` optimizer steps, so that a killed run loses
    little (resume with ``--ckpt_path last``).

    The last batch of an epoch is skipped: the checkpoint written after that epoch's validation
    supersedes it, and Lightning would resume from a checkpoint taken between the last batch and
    the validation by skipping that validation.
    """

    def __init__(self, dirpath: str | Path, every_n_train_steps: int) -> None:
        super().__init__(
            dirpath=str(dirpath),
            every_n_train_steps=every_n_train_steps,
            save_top_k=0,
            save_last=True,
            enable_version_counter=False,
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


class Throttle(Callback):
    """Sleep ``seconds`` after every training batch (to watch a run, or to give a test time to
    interrupt it mid-epoch)."""

    def __init__(self, seconds: float = 0.05) -> None:
        self.seconds = float(seconds)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        time.sleep(self.seconds)


def remove_stale_temporaries(directory: str | Path) -> list[Path]:
    """Delete temporaries (``.NAME.XXXX.tmp``) that a killed atomic write left behind."""
    d = Path(directory)
    removed = []
    if d.is_dir():
        for p in d.glob(".*.tmp"):
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed
