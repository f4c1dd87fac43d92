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
        {"hidden": 8, "basis": {"radial": 0}, "table": {"order": "cubic"}},
    )


@pytest.mark.parametrize(
    ("option", "off", "on"),
    [("basis_rbf", 0, 16), ("conv_gain", 1.0, 30.0), ("embedding_std", 1.0, 0.25),
     ("final_norm", True, False)],
)  # fmt: skip
@pytest.mark.parametrize("name", ["r3s2", "r3", "se3", "r3s2-nbody"])
def test_options_removed_in_release_0_6_load_only_where_they_changed_nothing(
    name, option, off, on
):
    # the value that left the model as it is today is dropped silently
    assert legacy.upgrade_options(name, {option: off, "hidden": 8}, "0.5.2") == (
        name, {"hidden": 8}
    )  # fmt: skip
    # any other built another model: it cannot be loaded, and the error says why
    with pytest.raises(ValueError, match=f"{option}=.*removed in release 0.6.*cannot be loaded"):
        legacy.upgrade_options(name, {option: on, "hidden": 8}, "0.5.2")


def test_flat_options_of_earlier_releases_become_components():
    flat = {"hidden": 32, "num_orientations": 4, "basis_dim": 32, "basis_radial": 50,
            "length_scale": 2.0, "degree": 2, "kernel": "separable", "widening": 2,
            "layer_scale": None, "table_step": 0.1, "table_order": "linear", "pooling": "mean",
            "readout_hidden": 64, "readout_all_layers": True, "cutoff": 5.0}  # fmt: skip
    name, opts = legacy.upgrade_options("r3s2", flat, "0.5.2")
    assert (name, opts) == ("r3s2", {
        "hidden": 32, "cutoff": 5.0, "space": {"num_orientations": 4},
        "basis": {"dim": 32, "radial": 50, "length_scale": 2.0, "degree": 2},
        "block": {"kind": "separable", "widening": 2, "layer_scale": None},
        "table": {"step": 0.1, "order": "linear"},
        "readout": {"pooling": "mean", "hidden": 64, "all_layers": True},
    })  # fmt: skip
    # an order without a step: the exact kernel where the model has no table by default
    assert legacy.upgrade_options("r3", {"table_order": "cubic"}, "0.5.2") == ("r3", {})
    assert legacy.upgrade_options("r3", {"table_step": None}, "0.5.2") == ("r3", {"table": None})
    assert legacy.upgrade_options("se3", {"group": "tetrahedral"}, "0.5.2")[1] == {
        "space": {"group": "tetrahedral"}
    }
    assert legacy.upgrade_options("r3s2-attention", {"heads": 2}, "0.5.2")[1] == {
        "block": {"heads": 2}
    }
    with pytest.raises(ValueError, match="mix the flat option table_step with table"):
        legacy.upgrade_options("r3s2", {"table_step": 0.1, "table": None})


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


def test_a_task_takes_the_flat_options_of_earlier_releases():
    """``regconv fit`` configs and tasks written for release 0.5 (flat fibre-model options) build
    the model that today's component options build."""
    from regconv.training import RegressionTask

    flat = {"hidden": 8, "layers": 1, "basis_dim": 8, "num_orientations": 6,
            "table_order": "linear", "pooling": "mean"}  # fmt: skip
    today = {"hidden": 8, "layers": 1, "basis": {"dim": 8}, "space": {"num_orientations": 6},
             "table": {"order": "linear"}, "readout": {"pooling": "mean"}}  # fmt: skip
    torch.manual_seed(0)
    old = RegressionTask(model="r3s2", model_options=flat).net
    torch.manual_seed(0)
    new = RegressionTask(model="r3s2", model_options=today).net
    assert old.space.num_fibre == 6 and old.basis.dim == 8
    assert (old.table.step, old.table.order) == (0.1, "linear")
    a, b = old.state_dict(), new.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
