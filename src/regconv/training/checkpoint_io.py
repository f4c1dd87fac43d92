"""Atomic checkpoint writes.

Lightning's ``TorchCheckpointIO`` writes straight to the final path, so a process killed while
saving leaves a truncated ``last.ckpt``. :class:`AtomicCheckpointIO` writes to a temporary file in
the same directory, fsyncs it and renames it over the target (``os.replace``), so a checkpoint
path holds either the previous complete checkpoint or the new one.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from regconv.utils.io import atomic_write

__all__ = ["AtomicCheckpointIO"]


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that writes through :func:`regconv.utils.io.atomic_write`."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        if storage_options is not None:
            raise TypeError(
                f"{type(self).__name__} does not support storage_options, got {storage_options!r}"
            )
        with atomic_write(path, "wb") as fh:
            torch.save(checkpoint, fh)
