"""The N-body error breakdown: per-trajectory MSE, references, summary, and the CLI."""

import json

import numpy as np
import pytest
import torch

from benchmarks import nbody_errors as ne
from regconv.training import NBodyDataModule, RegressionTask
from tests.helpers import quiet_trainer


def test_per_trajectory_mse_averages_within_each_graph():
    pred = torch.zeros(5, 3)
    target = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 3.0], [0, 0, 0], [0, 0, 0]])
    batch = torch.tensor([0, 0, 1, 1, 1])
    got = ne.per_trajectory_mse(pred, target, batch, 2)
    torch.testing.assert_close(got, torch.tensor([2.0 / 6.0, 9.0 / 9.0]))
    with pytest.raises(ValueError, match="at least one node"):
        ne.per_trajectory_mse(pred, target, batch, 3)
    with pytest.raises(ValueError, match=r"\[N, 3\]"):
        ne.per_trajectory_mse(pred, target[:4], batch, 2)


def test_summary_shares_of_the_worst_trajectories():
    errors = np.array([1.0] * 99 + [101.0])
    s = ne.summarise(errors)
    assert s["mse"] == pytest.approx(2.0) and s["median"] == 1.0 and s["trajectories"] == 100
    assert s["mse_sem"] == pytest.approx(np.std(errors, ddof=1) / 10.0)
    assert s["top1_share"] == pytest.approx(101.0 / 200.0)
    assert s["top5_share"] == pytest.approx(105.0 / 200.0)
    for bad in (np.array([]), np.array([1.0, np.nan]), np.array([-1.0])):
        with pytest.raises(ValueError, match="errors"):
            ne.summarise(bad)


def test_linear_coefficient_recovers_an_exact_linear_motion():
    rng = np.random.default_rng(0)
    loc, vel = rng.normal(size=(7, 5, 3)), rng.normal(size=(7, 5, 3))
    target = loc + 0.7 * vel
    a = ne.fit_linear_coefficient(loc, vel, target)
    assert a == pytest.approx(0.7, abs=1e-12)
    assert ne.reference_errors(loc, vel, target, a).max() < 1e-24
    with pytest.raises(ValueError, match="velocities are zero"):
        ne.fit_linear_coefficient(loc, 0 * vel, target)


def test_cli_matches_the_trainer_test_metric(tmp_path, monkeypatch, capsys):
    from regconv.data import nbody

    for split, n in (("train", 16), ("val", 8), ("test", 8)):
        monkeypatch.setitem(nbody.SPLIT_SIZES, split, n)  # tiny splits, generated in tmp_path
    dm = NBodyDataModule(num_train=16, root=str(tmp_path), batch_size=8, eval_batch_size=8)
    torch.manual_seed(0)
    task = RegressionTask(
        model="r3",
        model_options={"hidden": 8, "layers": 1, "basis": {"dim": 8}, "cutoff": None},
        task=dm.task_spec,
        loss="mse",
    )
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(task, dm)
    test_mse = trainer.test(task, dm, verbose=False)[0]["test/mse_pos"]
    ckpt = tmp_path / "tiny.ckpt"
    trainer.save_checkpoint(ckpt)
    capsys.readouterr()
    ne.main(
        [
            "--ckpt",
            str(ckpt),
            "--root",
            str(tmp_path),
            "--num-train",
            "16",
            "--splits",
            "test",
            "--rotations",
            "0",
            "2",
            "--batch-size",
            "3",
        ]
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    by = {(r["predictor"], r.get("rotations")): r for r in lines}
    assert set(by) == {
        ("static", None),
        ("constant_velocity", None),
        ("linear", None),
        ("model", 0),
        ("model", 2),
    }
    assert by[("model", 0)]["mse"] == pytest.approx(test_mse, rel=1e-5)
    assert by[("model", 0)]["trajectories"] == 8
    assert by[("constant_velocity", None)]["a"] == pytest.approx(1.0)
    # the least-squares coefficient is at least as good as any other on the training frames
    loc, vel, target = ne._frames("train", str(tmp_path), 30, 40, 16)
    a = by[("linear", None)]["a"]
    best = ne.reference_errors(loc, vel, target, a).mean()
    for other in (0.0, 1.0, a + 0.05, a - 0.05):
        assert best <= ne.reference_errors(loc, vel, target, other).mean() + 1e-15


def test_sign_flip_averaging_makes_the_model_exactly_charge_sign_invariant(tmp_path, monkeypatch):
    from torch_geometric.loader import DataLoader

    from regconv.data import nbody

    for split, n in (("train", 8), ("val", 4), ("test", 4)):
        monkeypatch.setitem(nbody.SPLIT_SIZES, split, n)
    dm = NBodyDataModule(num_train=8, root=str(tmp_path), batch_size=4, eval_batch_size=4)
    torch.manual_seed(0)
    options = {"hidden": 8, "layers": 1, "basis": {"dim": 8}, "cutoff": None}
    task = RegressionTask(model="r3", model_options=options, task=dm.task_spec, loss="mse").eval()
    batch = next(iter(DataLoader(dm.dataset("test"), batch_size=4)))
    flipped = batch.clone()
    flipped.x = -batch.x
    with torch.no_grad():
        plain, other = task(batch), task(flipped)
        averaged = task(batch, sign_flips=True)
        assert not torch.allclose(plain, other)  # the untrained model is not sign-invariant
        torch.testing.assert_close(averaged, 0.5 * (plain + other))
        torch.testing.assert_close(task(flipped, sign_flips=True), averaged)
        assert torch.equal(batch.x, -flipped.x)  # the caller's batch is left as it was
        errs = ne.model_errors(task, DataLoader(dm.dataset("test"), batch_size=3), 2, True)
    assert errs.shape == (4,) and np.isfinite(errs).all()


def test_references_on_the_published_initial_states(tmp_path, monkeypatch, capsys):
    from regconv.data import nbody

    for split, n in (("train", 8), ("val", 4), ("test", 4)):
        monkeypatch.setitem(nbody.SPLIT_SIZES, split, n)  # tiny splits, generated in tmp_path
    capsys.readouterr()
    ne.main(
        ["--root", str(tmp_path), "--num-train", "8", "--splits", "test", "--source", "published"]
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["predictor"] for r in records} == {"static", "constant_velocity", "linear"}
    assert all(r["source"] == "published" and r["trajectories"] == 4 for r in records)
    arr = nbody.load_split("test", str(tmp_path), verbose=False, source="published")
    static = next(r for r in records if r["predictor"] == "static")
    want = np.square(arr["loc"][:, 40] - arr["loc"][:, 30]).mean()
    assert static["mse"] == pytest.approx(want, rel=1e-12)


def test_a_checkpoint_is_evaluated_on_the_source_its_run_trained_on(tmp_path):
    ckpt_dir = tmp_path / "run" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    ckpt = str(ckpt_dir / "best.ckpt")
    assert ne.run_source(None) == "regconv" and ne.run_source(ckpt) == "regconv"  # no config
    cfg = tmp_path / "run" / "config.yaml"
    cfg.write_text("data:\n  init_args:\n    batch_size: 50\n")
    assert ne.run_source(ckpt) == "regconv"
    cfg.write_text("data:\n  init_args:\n    source: published\n")
    assert ne.run_source(ckpt) == "published"
    cfg.write_text("data:\n  init_args:\n    source: nri\n")
    with pytest.raises(ValueError, match="unknown N-body source"):
        ne.run_source(ckpt)
