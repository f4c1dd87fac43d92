"""Test helpers (the random-molecule generator is public: :func:`regconv.testing.random_molecules`)."""

from __future__ import annotations


def small_r3s2(dtype=None, **extra):
    """A small full-graph ``r3s2`` (hidden 16, 2 layers, 8 orientations) with every residual
    branch on (``block.layer_scale=1``), seeded, in eval mode; the exact kernel unless ``extra``
    sets ``table``."""
    import torch

    from regconv import models

    torch.manual_seed(0)
    model = models.create(
        "r3s2", hidden=16, layers=2, cutoff=None,
        **{"basis": {"dim": 16}, "space": {"num_orientations": 8}, "block": {"layer_scale": 1.0},
           "table": None, **extra},
    )  # fmt: skip
    return model.to(dtype or torch.float64).eval()


def assert_rejects_bad_atoms(model, batch) -> None:
    """``model`` raises ``ValueError`` for NaN coordinates, an unknown element and missing ``z``."""
    import pytest

    nan = batch.clone()
    nan.pos = nan.pos.clone()
    nan.pos[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(nan)
    unknown = batch.clone()
    unknown.z = unknown.z.clone()
    unknown.z[0] = 92
    with pytest.raises(ValueError, match="unknown element"):
        model(unknown)
    missing = batch.clone()
    del missing.z
    with pytest.raises(ValueError, match="z"):
        model(missing)


def quiet_trainer(**kw):
    """A Lightning trainer on the CPU without logger, checkpoints, progress bar or summary."""
    import lightning.pytorch as L

    defaults = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    defaults.update(kw)
    return L.Trainer(**defaults)
