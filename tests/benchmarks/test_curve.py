"""benchmarks.budget_core.curve: copies of the EMA weights at every epoch's end, evaluated after
training, the final weights put back (epochs bounded here, not time, so the count is exact)."""

from __future__ import annotations

import argparse

import lightning.pytorch as L
import pytest
import torch

from benchmarks.budget_core import BudgetTask, EpochSnapshots, Meter, learning_curve
from benchmarks.pes_budget.task import data_module
from tests.cli.test_md17_fit import write_harmonic_rmd17


def test_one_point_per_epoch_then_the_final_weights_are_back(tmp_path):
    data = tmp_path / "toy.npz"
    write_harmonic_rmd17(data, frames=1100)  # 950 / 50 / 100
    args = argparse.Namespace(path=str(data), molecule=None, split_seed=0, frames=None,
                              test_size=20, batch_size=50)  # fmt: skip
    dm = data_module(args, seed=0)
    L.seed_everything(0, verbose=False)
    task = BudgetTask(model="schnet", model_options={"hidden": 8, "layers": 1, "num_rbf": 8},
                      task=dm.task_spec, lr=1e-3, ema_decay=0.9, budget_s=600.0,
                      loss="mse")  # fmt: skip
    meter = Meter()
    snaps = EpochSnapshots(meter)
    trainer = L.Trainer(accelerator="cpu", max_epochs=3, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[meter, snaps])  # fmt: skip
    trainer.fit(task, datamodule=dm)
    assert [(s["epoch"], s["steps"]) for s in snaps.snapshots] == [(1.0, 19), (2.0, 38), (3.0, 57)]
    assert all(v.device.type == "cpu" for s in snaps.snapshots for v in s["state"].values())
    final = {k: v.clone() for k, v in task.eval_net.state_dict().items()}
    curve = learning_curve(trainer, task, snaps.snapshots, dm.val_dataloader(), n_atoms=5)
    assert [p["steps"] for p in curve] == [19, 38, 57]
    assert all(a["seconds"] < b["seconds"] for a, b in zip(curve, curve[1:], strict=False))
    for k, v in task.eval_net.state_dict().items():
        assert torch.equal(v, final[k]), k
    trainer.test(task, dataloaders=dm.val_dataloader(), verbose=False)
    last = task.last_results["test"]["targets"]["forces"]["mae"]
    assert curve[-1]["mae_forces"] == pytest.approx(float(last), rel=1e-6)
