"""Checkpoints written by shipped configs before the core redesign still load and predict the
same (``record_checkpoint_outputs.py`` recorded their predictions with the old code)."""

from __future__ import annotations

import pytest
import torch

from regconv.models import legacy
from regconv.training.predict import load_task
from tests.training.record_checkpoint_outputs import CHECKPOINTS, RECORDING, inputs

RECORDED = torch.load(RECORDING, weights_only=False)


@pytest.mark.parametrize("kind", sorted(CHECKPOINTS))
def test_old_checkpoint_loads_and_predicts_the_recorded_values(kind):
    task = load_task(CHECKPOINTS[kind])
    task.eval()
    with torch.no_grad():
        out = task(inputs(kind))
    expected = RECORDED[kind]
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))


def test_the_nbody_checkpoint_was_saved_with_the_old_options_and_loads_as_pair_features():
    ckpt = torch.load(CHECKPOINTS["nbody"], map_location="cpu", weights_only=False)
    saved = ckpt["hyper_parameters"]["model_options"]
    assert "radial_scales" in saved and "approach_horizon" in saved
    task = load_task(CHECKPOINTS["nbody"])
    kinds = [type(f).__name__ for f in task.net.pair_features]
    assert kinds == ["InverseSquareDistance", "ClosestApproach"]


def test_removed_vector_skip_cannot_be_loaded_silently():
    with pytest.raises(ValueError, match="vector_skip"):
        legacy.upgrade_options("r3s2", {"vector_skip": True})
    assert legacy.upgrade_options("r3s2", {"vector_skip": False, "hidden": 8}, "0.2.0") == (
        "r3s2",
        # the distance Gaussians came in release 0.3, the quadratic table in 0.4
        {"hidden": 8, "basis_radial": 0, "table_order": "cubic"},
    )


def test_upgrade_options_keeps_the_old_concatenation_order():
    name, opts = legacy.upgrade_options(
        "se3", {"radial_scales": [0.1], "approach_horizon": 2.0, "approach_invariants": True}
    )
    assert name == "se3"
    assert [f["kind"] for f in opts["pair_features"]] == ["heading", "inverse_square", "closest_approach"]
    assert legacy.upgrade_options("schnet", {"hidden": 4}) == ("schnet", {"hidden": 4})


def test_upgrade_state_dict_renames_by_prefix(monkeypatch):
    monkeypatch.setattr(legacy, "RENAMED_PARAMETERS", (("old_block.", "blocks."),))
    state = {"net.old_block.w": 1, "net.norm.w": 2, "ema.module.old_block.w": 3}
    out = legacy.upgrade_state_dict(state, "net.")
    assert out == {"net.blocks.w": 1, "net.norm.w": 2, "ema.module.old_block.w": 3}
