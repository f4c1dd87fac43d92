"""benchmarks.pes_budget: the same-budget energy + force comparison (tiny budgets and models
on a toy rMD17 file; MACE's part: its files, command line and error sums without MACE, and one
tiny real MACE run under the time cap)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.pes_budget import spec_options
from benchmarks.pes_budget.cli import main
from benchmarks.pes_budget.mace import (
    ENERGY_KEY,
    FORCES_KEY,
    _errors,
    mace_train_argv,
    write_extxyz,
)
from tests.cli.test_md17_fit import write_harmonic_rmd17

MODELS = ["schnet:hidden=8,layers=1,num_rbf=8", "r3:hidden=8,layers=1,basis.dim=8"]


def _argv(data, out, *extra):
    return ["--path", str(data), "--minutes", "0.03", "--test-size", "20", "--jobs", "2",
            "--out", str(out), "--models", *MODELS, *extra]  # fmt: skip


def test_run_trains_tests_keeps_checkpoints_and_resumes(tmp_path, capsys, monkeypatch):
    from benchmarks.pes_budget.specs import MODEL_LR
    from regconv.ase import RegconvCalculator

    data = tmp_path / "toy.npz"
    write_harmonic_rmd17(data, frames=1100)  # 950 / 50 / 100
    out = tmp_path / "pes"
    assert main(_argv(data, out)) == 0
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["models"]] == MODELS and doc["benchmark"] == "pes-budget"
    for rec in doc["models"]:
        assert rec["benchmark"] == "pes-budget"  # the harness's name, as in results.json
        assert rec["test_count"] == 20 and rec["steps"] > 0
        assert np.isfinite(rec["test_mae_forces"]) and np.isfinite(rec["test_mae_energy"])
        assert rec["settings"]["scheme"] == "random" and rec["settings"]["test_size"] == 20
        assert rec["load"]["wall_s"] > 0 and rec["torch_threads"] == 1
        # the kept checkpoint drives ASE
        import ase

        atoms = ase.Atoms(numbers=[6, 1, 1, 1, 8], positions=np.load(data)["coords"][0])
        atoms.calc = RegconvCalculator(rec["checkpoint"])
        assert atoms.get_forces().shape == (5, 3)
    table = (out / "table.md").read_text()
    assert all(m in table for m in MODELS) and "force MAE (meV/Å)" in table
    capsys.readouterr()
    # earlier releases stamped their records "pes_budget": they are read and resumed all the same
    old = sorted((out / "models").glob("*.json"))[0]
    old.write_text(json.dumps({**json.loads(old.read_text()), "benchmark": "pes_budget"}))

    assert main(_argv(data, out)) == 0  # resume: nothing left to train
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [r["model"] for r in lines] == MODELS and all(r["resumed"] for r in lines)
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["models"]] == MODELS
    assert sorted(r["benchmark"] for r in doc["models"]) == ["pes-budget", "pes_budget"]
    assert main(_argv(data, out, "--lr", "0.01")) == 2  # other settings: refused
    # each model trained at its own rate; a record of another rate of the same spec is refused
    assert [r["lr"] for r in doc["models"]] == [MODEL_LR["schnet"], MODEL_LR["r3"]]
    monkeypatch.setitem(MODEL_LR, "schnet", 2e-3)
    capsys.readouterr()
    assert main(_argv(data, out)) == 2
    assert "lr: 0.005 vs 0.002" in capsys.readouterr().err


def test_bad_arguments_are_usage_errors(tmp_path):
    data = tmp_path / "toy.npz"
    for extra in (["--minutes", "0"], ["--models", "nope"], ["--models", "r3:bogus=1"],
                  ["--models", "mace:bogus=1"], ["--ema-decay", "1.5"]):  # fmt: skip
        argv = ["--path", str(data), "--minutes", "1", *extra]
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2, extra


def test_the_seed_model_tabulates_its_kernel_with_the_bond_features_at_the_nodes():
    from regconv import models

    name, options = spec_options("r3s2")
    net = models.create(name, num_outputs=1, output="graph", **options)
    assert net.table is not None and net.table.smooth  # continuous forces
    assert net.table.order == "cubic_bspline"  # C²: the force's derivative is continuous (NVE)
    assert not net.edge_features and len(net.spatial_basis.distance_features) == 1


def test_specs_fill_defaults_and_take_overrides():
    name, options = spec_options("r3s2:space.num_orientations=4,basis.dim=32")
    assert name == "r3s2" and options["space"] == {"num_orientations": 4}
    assert options["basis"] == {"dim": 32, "length_scale": 1.0}  # merged into the default
    assert options["block"] == {"layer_scale": None} and options["cutoff"] == 4.0
    assert options["table"] == {"order": "cubic_bspline"}  # the default step, the C² order
    assert spec_options("r3s2:table.step=0.05")[1]["table"] == {"order": "cubic_bspline",
                                                               "step": 0.05}  # fmt: skip
    assert spec_options("r3s2:table=None")[1]["table"] is None  # the exact kernel
    assert spec_options("r3s2:num_orientations=4")[1]["space"] == {"num_orientations": 4}
    assert spec_options("r3s2:lr=0.005")[1] == spec_options("r3s2")[1]  # lr is not an option
    assert spec_options("mace:hidden_irreps=32x0e")[1] == {"hidden_irreps": "32x0e", "r_max": 5.0}


def test_mace_frames_command_and_errors(tmp_path, monkeypatch):
    import argparse

    import ase.io

    from regconv.data.md17 import MD17

    data = tmp_path / "toy.npz"
    write_harmonic_rmd17(data, frames=1010)
    test = MD17(str(data), None, "test", "random", 0)
    n = write_extxyz(test, tmp_path / "test.xyz")
    frames = ase.io.read(tmp_path / "test.xyz", ":")
    assert n == len(frames) == 10
    d0 = test[0]
    assert frames[0].info[ENERGY_KEY] == pytest.approx(float(d0.energy[0]) / 1000.0)
    # extended XYZ keeps 8 decimals (1e-8 eV/Å)
    np.testing.assert_allclose(frames[0].arrays[FORCES_KEY], d0.forces.double().numpy() / 1000.0,
                               rtol=0, atol=1e-8)  # fmt: skip
    # a "prediction" off by 1 meV in energy and 2 meV/Å in every force component
    for a in frames:
        a.info["MACE_energy"] = a.info[ENERGY_KEY] + 0.001
        a.arrays["MACE_forces"] = a.arrays[FORCES_KEY] - 0.002
    ase.io.write(tmp_path / "pred.xyz", frames, format="extxyz")
    err = _errors(tmp_path / "pred.xyz", tmp_path / "test.xyz")
    assert err["test_mae_energy"] == pytest.approx(1.0, abs=1e-6)
    assert err["test_mae_energy_per_atom"] == pytest.approx(0.2, abs=1e-6)
    assert err["test_mae_forces"] == pytest.approx(2.0, abs=1e-6)
    assert err["test_count"] == 10

    monkeypatch.setattr("benchmarks.pes_budget.mace.mace_tool", lambda name: f"/bin/{name}")
    args = argparse.Namespace(seed=3, batch_size=5)
    argv = mace_train_argv({"hidden_irreps": "64x0e+64x1o", "r_max": 5.0}, args,
                           tmp_path / "w", tmp_path, epochs=7)  # fmt: skip

    def flag(name):
        return argv[argv.index(name) + 1]

    assert argv[0] == "/bin/mace_run_train"
    assert flag("--seed") == "3" and flag("--max_num_epochs") == "7"
    assert flag("--hidden_irreps") == "64x0e+64x1o" and flag("--energy_key") == ENERGY_KEY


def test_a_spec_may_carry_its_learning_rate():
    from benchmarks.pes_budget.specs import DEFAULT_LR, MODEL_LR, spec_lr

    assert spec_lr("schnet:lr=0.002,hidden=8", 1e-3) == 0.002  # the spec's own, before --lr
    assert spec_lr("schnet", 1e-3) == 1e-3  # --lr, before the model's
    assert spec_lr("schnet") == MODEL_LR["schnet"] == 5e-3  # the model's chosen rate
    assert spec_lr("r3s2") == MODEL_LR["r3s2"] and spec_lr("r3s2:lr=0.001") == 1e-3
    assert spec_lr("dimenet") == DEFAULT_LR == 1e-3  # no rate of its own
    assert "lr" not in spec_options("schnet:lr=0.005")[1]
    with pytest.raises(ValueError, match="lr must be"):
        spec_lr("schnet:lr=-1", 1e-3)


def test_mace_epochs_may_be_bounded_by_the_spec():
    assert spec_options("mace:epochs=5")[1]["epochs"] == 5
    with pytest.raises(ValueError, match="epochs"):
        spec_options("mace:epochs=0")


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_the_cap_cuts_maces_epoch_at_the_deadline_and_ends_its_loop(monkeypatch):
    """MACE's own ``train_one_epoch`` (its ``take_step`` replaced by a counter that advances a
    fake clock by 1 s per step) under a 10 s cap: 4 epochs of 4 batches give 4 + 4 + 2 steps,
    the third epoch is cut short and the fourth ends the loop."""
    import importlib

    from benchmarks.pes_budget import mace_capped

    tools, loop = importlib.import_module("mace.tools"), importlib.import_module("mace.tools.train")
    for module, name in ((tools, "train"), (loop, "train"), (loop, "train_one_epoch")):
        monkeypatch.setattr(module, name, getattr(module, name))  # restored after the test
    clock, taken = _Clock(), []

    def take_step(*, batch, **_):
        taken.append(batch)
        clock.t += 1.0
        return None, {}

    def fake_train(*, epochs):  # MACE's loop: calls its module's train_one_epoch per epoch
        for epoch in range(epochs):
            loop.train_one_epoch(
                model=None, loss_fn=None, data_loader=[10 * epoch + i for i in range(4)],
                optimizer=None, epoch=epoch, output_args={}, max_grad_norm=None, ema=None,
                logger=type("L", (), {"log": lambda self, m: None})(), device="cpu",
                distributed=False,
            )  # fmt: skip
        return "finished"

    monkeypatch.setattr(loop, "take_step", take_step)
    monkeypatch.setattr(loop, "train", fake_train)
    original_one_epoch = loop.train_one_epoch
    state = mace_capped.install(10.0, clock=clock)
    assert tools.train(epochs=4) is None  # stopped by the cap, not finished
    assert taken == [0, 1, 2, 3, 10, 11, 12, 13, 20, 21]
    assert state["steps"] == [10] and state["short_epochs"] == [1]
    assert state["epoch_s"] == [10.0]  # seconds inside the epochs: the budget
    # a loop that ends first is not cut (installed afresh on MACE's functions)
    clock.t, taken[:] = 0.0, []
    tools.train = loop.train = fake_train
    loop.train_one_epoch = original_one_epoch
    state = mace_capped.install(100.0, clock=clock)
    assert tools.train(epochs=2) == "finished" and state["steps"] == [8]
    assert state["short_epochs"] == [0]
    for bad in (0, -1.0, float("nan"), float("inf"), "900"):
        with pytest.raises(ValueError, match="budget"):
            mace_capped.install(bad)


def test_a_capped_mace_run_stops_at_its_budget(tmp_path):
    """The real ``mace_run_train`` (a tiny model, 1000 epochs allowed) under a 3 s cap: it
    stops within the first epochs, writes its model, and the steps it took."""
    import argparse
    import subprocess
    import sys

    from benchmarks.pes_budget.mace import capped_argv, mace_curve
    from regconv.data.md17 import MD17

    write_harmonic_rmd17(tmp_path / "toy.npz", frames=1010)
    for split in ("train", "val"):
        write_extxyz(MD17(str(tmp_path / "toy.npz"), None, split, "random", 0),
                     tmp_path / f"{split}.xyz")  # fmt: skip
    args = argparse.Namespace(seed=0, batch_size=5)
    mace = mace_train_argv({"hidden_irreps": "8x0e", "r_max": 4.0}, args, tmp_path / "w",
                           tmp_path, epochs=1000)  # fmt: skip
    argv = capped_argv(mace, 3.0, tmp_path / "steps.json")
    assert argv[0] == sys.executable and argv[argv.index("--") + 1 :] == mace[1:]
    log = tmp_path / "train.log"
    with open(log, "w") as fh:
        proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, timeout=600)
    assert proc.returncode == 0, log.read_text()[-3000:]
    done = json.loads((tmp_path / "steps.json").read_text())
    assert done["budget_s"] == 3.0 and 1 <= done["steps"] < 1000 * 190
    assert done["short_epochs"] == 1  # the cap, not the epochs, ended it
    assert 3.0 <= done["epoch_s"] < 10.0
    assert "the budget of 3 s has passed" in log.read_text()
    curve = mace_curve(log, 190, done["steps"])
    assert curve and curve[-1]["steps"] == done["steps"] and curve[-1]["seconds"] < 30
    assert sorted((tmp_path / "w").rglob("*.model"))


def test_mace_learning_curve_is_read_from_its_per_epoch_validation_lines(tmp_path):
    from benchmarks.pes_budget.mace import mace_curve

    log = tmp_path / "train.log"
    log.write_text(
        "2026-12-02 00:11:10.000 INFO: Initial: head: Default, loss=0.9, MAE_E_per_atom=  "
        "900.00 meV, MAE_F= 1000.00 meV / A\n"
        "2026-12-02 00:11:10.500 INFO: Started training, reporting errors on validation set\n"
        "2026-12-02 00:11:40.500 INFO: Epoch 0: head: Default, loss=0.05000000, "
        "MAE_E_per_atom=   12.50 meV, MAE_F=  150.25 meV / A\n"
        "2026-12-02 00:12:10.750 INFO: Epoch 1: head: Default, loss=0.04000000, "
        "MAE_E_per_atom=    9.00 meV, MAE_F=  120.00 meV / A\n"
    )
    assert mace_curve(log, 190) == [
        {"epoch": 1.0, "steps": 190, "seconds": 30.0, "mae_energy_per_atom": 12.5,
         "mae_forces": 150.25},
        {"epoch": 2.0, "steps": 380, "seconds": 60.25, "mae_energy_per_atom": 9.0,
         "mae_forces": 120.0},
    ]  # fmt: skip
    log.write_text("2026-12-02 00:11:10.500 INFO: Started training\n")
    assert mace_curve(log, 190) == []


def test_options_are_chosen_on_the_validation_frames(tmp_path, capsys):
    data = tmp_path / "toy.npz"
    write_harmonic_rmd17(data, frames=1100)  # 950 / 50 / 100
    out = tmp_path / "pes-val"
    argv = ["--path", str(data), "--minutes", "0.05", "--test-size", "20", "--out", str(out),
            "--eval-split", "val", "--threads", "1", "--batch-size", "50",
            "--models", MODELS[0]]  # fmt: skip
    assert main(argv) == 0
    (rec,) = json.loads((out / "results.json").read_text())["models"]
    assert rec["eval_split"] == "val" and rec["settings"]["eval_split"] == "val"
    assert rec["test_count"] == 50  # the 50 validation frames, not the first 20 test frames
    assert "| val frames |" in (out / "table.md").read_text()
    # the learning curve: epoch ends in order, within the budget, its last point the final model
    curve = rec["curve"]  # (how many points depends on the machine's speed: see test_curve.py)
    assert rec["curve_split"] == "val" and len(curve) >= 1
    for key in ("epoch", "steps", "seconds"):
        assert all(a[key] < b[key] for a, b in zip(curve, curve[1:], strict=False)), key
    assert curve[-1]["steps"] == rec["steps"]
    assert 0 < curve[-1]["seconds"] <= rec["train_s"] + 0.5
    assert curve[-1]["mae_forces"] == pytest.approx(rec["test_mae_forces"], rel=1e-5)
    assert curve[-1]["mae_energy_per_atom"] == pytest.approx(
        rec["test_mae_energy_per_atom"], rel=1e-5
    )
    # the curves drawn: python -m benchmarks pes-curves
    from benchmarks.pes_budget.curves import main as curves_main

    capsys.readouterr()
    png = tmp_path / "fig" / "curves.png"
    assert curves_main([str(out), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = capsys.readouterr().out
    assert f"| {MODELS[0]} | {curve[-1]['epoch']:g} |" in table
    with pytest.raises(SystemExit):  # a model that is not in the run: no curve, usage error
        curves_main([str(out), "--out", str(png), "--models", "r3s2"])
    # test-time rotation averaging of the kept checkpoint: python -m benchmarks pes-rotations
    from benchmarks.pes_budget.rotations import main as rotations_main

    capsys.readouterr()
    assert rotations_main([str(out), "--rotations", "0", "3"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["model"], r["rotations"], r["frames"]) for r in rows] == [
        (MODELS[0], 0, 50), (MODELS[0], 3, 50)
    ]
    assert rows[0]["mae_forces"] == pytest.approx(rec["test_mae_forces"], rel=1e-4)
    # SchNet is exactly invariant: averaging over rotations changes its errors by round-off only
    assert rows[1]["mae_forces"] == pytest.approx(rows[0]["mae_forces"], rel=1e-4)
    # the holdout: the frames after the run's 20 test frames, disjoint from every other split
    from benchmarks.pes_budget.rotations import _data

    capsys.readouterr()
    holdout = ["--rotations", "0", "--split", "holdout", "--holdout"]
    assert rotations_main([str(out), *holdout, "80"]) == 0
    (row,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (row["split"], row["frames"]) == ("holdout", 80) and row["mae_forces"] > 0
    settings = json.loads((out / "results.json").read_text())["settings"]
    energies = {
        split: {float(e) for b in _data(settings, split, 80) for e in b.energy.reshape(-1)}
        for split in ("val", "test", "holdout")
    }
    assert [len(energies[k]) for k in ("val", "test", "holdout")] == [50, 20, 80]
    assert not (energies["holdout"] & (energies["val"] | energies["test"]))
    with pytest.raises(SystemExit):  # 100 frames after training and validation: 20 + 81 > 100
        rotations_main([str(out), *holdout, "81"])
    assert "no 81 holdout frames" in capsys.readouterr().err
    capsys.readouterr()
    # a test-split run cannot resume it (different settings)
    assert main([a for a in argv if a not in ("--eval-split", "val")]) == 2


def test_the_table_shows_the_mace_training_loop_not_its_set_up():
    from benchmarks.pes_budget.report import render_table

    row = {"model": "mace", "params": 1, "steps": 950, "epochs": 5, "test_count": 50,
           "test_mae_forces": 50.0, "test_mae_energy": 1.0, "test_mae_energy_per_atom": 0.05}  # fmt: skip
    assert "| 21.0 |" in render_table([{**row, "train_s": 1260.0}])
    assert "| 15.2 |" in render_table([{**row, "train_s": 1260.0, "train_loop_s": 912.0}])
    assert "| 15.0 |" in render_table([{**row, "train_s": 1260.0, "train_loop_s": 912.0,
                                        "train_epochs_s": 900.0}])  # fmt: skip


def test_mace_runs_with_the_threads_it_is_given(tmp_path):
    import sys

    from benchmarks.pes_budget.mace import _run

    log = tmp_path / "tool.log"
    code = "import os; print(os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])"
    assert _run([sys.executable, "-c", code], log, threads=1) > 0
    assert log.read_text().split() == ["1", "1"]


def test_rotation_augmentation_can_be_turned_off(tmp_path):
    import torch

    data = tmp_path / "toy.npz"
    write_harmonic_rmd17(data, frames=1100)
    out = tmp_path / "pes-plain"
    argv = ["--path", str(data), "--minutes", "0.02", "--test-size", "20", "--out", str(out),
            "--threads", "1", "--models", MODELS[0]]  # fmt: skip
    assert main([*argv, "--no-rotation-augment"]) == 0
    (rec,) = json.loads((out / "results.json").read_text())["models"]
    assert rec["settings"]["rotation_augment"] is False
    hp = torch.load(rec["checkpoint"], map_location="cpu", weights_only=False)["hyper_parameters"]
    assert hp["rotation_augment"] is False
    assert main(argv) == 2  # augmented training is another setting: it cannot resume this run
