"""regconv.training: the task, standardisation, EMA, schedule, metrics, samplers, checkpoints.

Everything is tiny (an ``r3`` model of width 8, a few QM9 molecules or synthetic graphs) and runs
in-process.
"""

from __future__ import annotations

import math
import warnings

import lightning.pytorch as L
import pytest
import torch
from torch_geometric.data import Batch, Data

from regconv.training import (
    AtomicCheckpointIO,
    DatasetDataModule,
    EpochSampler,
    ExponentialMovingAverage,
    NBodyDataModule,
    QM9DataModule,
    RegressionTask,
    ResumableLoader,
    TaskSpec,
    WarmupCosine,
    nbody_task,
    qm9_task,
)
from regconv.training.augment import random_rotations, rotate_batch, unrotate_vectors
from regconv.training.sampling import WeightedDataset
from regconv.training.spec import unit_tag
from regconv.training.standardise import normalised_target
from tests.helpers import quiet_trainer

TINY = {"hidden": 8, "layers": 1, "basis_dim": 8}


def tiny_task(targets=("homo",), **kw) -> RegressionTask:
    torch.manual_seed(0)
    return RegressionTask(model="r3", model_options=TINY, task=qm9_task(list(targets)), **kw)


def molecule(n: int, seed: int, y: list[float]) -> Data:
    g = torch.Generator().manual_seed(seed)
    z = torch.tensor([6, 1, 8, 7, 9, 1, 6, 1])[:n]
    return Data(z=z, pos=torch.randn(n, 3, generator=g) * 1.2, y=torch.tensor([y]))


# ----------------------------------------------------------------------------------------------
# specs, options
# ----------------------------------------------------------------------------------------------


def test_task_specs_and_unit_tags():
    spec = TaskSpec.from_dict(qm9_task(["homo", "u0", "alpha", "cv"]))
    assert spec.kind == "graph" and spec.num_outputs == 4
    assert [t.extensive for t in spec.targets] == [False, True, False, False]
    assert spec.targets[0].metric_name("test", "mae") == "test/mae_homo_meV"
    assert spec.targets[2].metric_name("val", "mae") == "val/mae_alpha_bohr3"
    assert spec.targets[3].metric_name("val", "mae") == "val/mae_cv_cal_molK"
    assert unit_tag("") == ""
    nb = TaskSpec.from_dict(nbody_task())
    assert nb.kind == "node_vector" and nb.num_outputs == 1 and nb.in_features == 1
    with pytest.raises(ValueError, match="unknown QM9 target 'homo2'"):
        qm9_task("homo2")
    with pytest.raises(ValueError, match="kind"):
        TaskSpec.from_dict({"kind": "edge", "targets": ["a"]})


def test_model_options_are_checked():
    with pytest.raises(ValueError, match="no option"):
        RegressionTask(model="r3", model_options={"hiddn": 8})
    with pytest.raises(ValueError, match="may not set"):
        RegressionTask(model="r3", model_options={"num_outputs": 3})
    with pytest.raises(ValueError, match="unknown model"):
        RegressionTask(model="r4")


# ----------------------------------------------------------------------------------------------
# standardisation
# ----------------------------------------------------------------------------------------------


def test_standardisation_round_trip_and_per_atom_shift():
    task = tiny_task(["homo", "u0"])
    mols = [
        molecule(3 + i % 5, i, [-6000.0 + 37 * i, -12000.0 * (3 + i % 5) + 5 * i])
        for i in range(20)
    ]
    y = torch.cat([m.y for m in mols]).double()
    n = torch.tensor([m.num_nodes for m in mols])
    task.set_statistics({"y": y, "num_atoms": n})
    assert task.per_atom_mask.tolist() == [False, True]
    # homo: plain mean/std; u0 (extensive): per-atom mean, std of the residual
    assert torch.isclose(task.target_shift[0].double(), y[:, 0].mean(), rtol=1e-6)
    assert torch.isclose(task.target_scale[0].double(), y[:, 0].std(), rtol=1e-5)
    per_atom = (y[:, 1] / n).mean()
    assert torch.isclose(task.target_shift[1].double(), per_atom, rtol=1e-6)
    assert torch.isclose(task.target_scale[1].double(), (y[:, 1] - n * per_atom).std(), rtol=1e-4)
    batch = Batch.from_data_list(mols)
    z = normalised_target(batch, task.spec.kind, *task.standardisation)
    assert abs(float(z[:, 0].mean())) < 1e-4 and abs(float(z[:, 0].std()) - 1) < 1e-4
    back = task.to_prediction(z, batch)
    torch.testing.assert_close(back, batch.y, rtol=0, atol=0.02)  # float32 of ~-6e4 meV
    # without standardisation the model output is the prediction
    raw = tiny_task(["homo", "u0"], standardize=False)
    raw.set_statistics({"y": y, "num_atoms": n})
    torch.testing.assert_close(raw.to_prediction(z, batch), z)


def test_node_vector_prediction_is_pos_plus_scaled_output():
    torch.manual_seed(0)
    task = RegressionTask(model="r3", model_options=TINY, task=nbody_task())
    task.set_statistics({"displacement": torch.full((10, 3), 2.0, dtype=torch.float64)})
    assert float(task.target_scale) == pytest.approx(2.0)
    pos = torch.randn(5, 3)
    data = Data(pos=pos, y=pos + 1.0, x=torch.ones(5, 1), vec=torch.zeros(5, 1, 3))
    batch = Batch.from_data_list([data])
    out = torch.randn(5, 1, 3)
    torch.testing.assert_close(task.to_prediction(out, batch), pos + 2.0 * out[:, 0])
    target = normalised_target(batch, task.spec.kind, *task.standardisation)
    torch.testing.assert_close(target, torch.full((5, 3), 0.5))


def test_statistics_come_from_the_training_split_and_are_checkpointed(tmp_path):
    dm = QM9DataModule(
        target=["homo", "u0"], train_subset=32, val_subset=8, test_subset=8, batch_size=8
    )
    task = tiny_task(["homo", "u0"])
    trainer = quiet_trainer(max_steps=1, limit_val_batches=0, default_root_dir=tmp_path)
    trainer.fit(task, dm)
    y = dm.dataset("train").y.double()
    assert torch.isclose(task.target_shift[0].double(), y[:, 0].mean(), rtol=1e-6)
    assert bool(task.stats_ready)
    path = tmp_path / "a.ckpt"
    trainer.save_checkpoint(path)
    back = RegressionTask.load_from_checkpoint(path)
    torch.testing.assert_close(back.target_shift, task.target_shift)
    torch.testing.assert_close(back.target_scale, task.target_scale)
    assert back.spec == task.spec


# ----------------------------------------------------------------------------------------------
# schedule, EMA
# ----------------------------------------------------------------------------------------------


def test_warmup_cosine_schedule():
    f = WarmupCosine(warmup_steps=4, total_steps=14, min_ratio=0.1)
    assert [round(f(s), 6) for s in range(4)] == [0.2, 0.4, 0.6, 0.8]
    assert f(4) == pytest.approx(1.0)
    assert f(9) == pytest.approx(0.1 + 0.9 * 0.5)
    assert f(14) == pytest.approx(0.1) and f(100) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(4, 20))


def test_ema_update_rule():
    net = torch.nn.Linear(2, 1)
    ema = ExponentialMovingAverage(net, decay=0.5)
    w0 = ema.module.weight.clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    d = ema.current_decay()  # min(0.5, 1/10)
    assert d == pytest.approx(0.1)
    ema.update(net)
    torch.testing.assert_close(ema.module.weight, d * w0 + (1 - d) * net.weight)
    assert int(ema.num_updates) == 1
    assert not any(p.requires_grad for p in ema.parameters())


def test_ema_weights_are_used_for_validation_and_test():
    dm = QM9DataModule(target="homo", train_subset=32, val_subset=8, test_subset=8, batch_size=8)
    task = tiny_task(ema_decay=0.9, lr=0.01)
    quiet_trainer(max_steps=6, limit_val_batches=0).fit(task, dm)
    assert int(task.ema.num_updates) == 6
    assert task.eval_net is task.ema.module
    diff = [
        (a - b).abs().max()
        for a, b in zip(task.net.parameters(), task.ema.parameters(), strict=True)
    ]
    assert max(diff) > 0  # the average lags behind the trained weights
    batch = Batch.from_data_list([dm.dataset("val")[i] for i in range(8)])
    task.eval()
    with torch.no_grad():
        expected = task.to_prediction(task.ema.module(batch), batch)
        raw = task.to_prediction(task.net(batch), batch)
        torch.testing.assert_close(task(batch), expected)
    assert not torch.allclose(expected, raw)
    # validation metrics are those of the EMA weights
    results = quiet_trainer().validate(task, dm, verbose=False)[0]
    mae = (expected - batch.y).abs().mean().item()
    assert results["val/mae_homo_meV"] == pytest.approx(mae, rel=1e-5)


# ----------------------------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------------------------


def test_loss_decreases_on_a_tiny_overfit_set():
    dm = QM9DataModule(target="homo", train_subset=16, val_subset=8, test_subset=8, batch_size=8)
    task = tiny_task(lr=0.01, warmup_steps=0, ema_decay=None)
    losses = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(float(outputs["loss"]))

    quiet_trainer(max_epochs=15, limit_val_batches=0, callbacks=[Record()]).fit(task, dm)
    first, last = sum(losses[:4]) / 4, sum(losses[-4:]) / 4
    assert last < 0.6 * first, (first, last)


def test_metrics_are_in_data_units_with_units_in_the_names():
    mols = [molecule(4, i, [float(i), 10.0 * i]) for i in range(6)]
    dm = DatasetDataModule(
        qm9_task(["alpha", "u0"]), train=mols, val=mols, test=mols, batch_size=4, eval_batch_size=4
    )
    task = RegressionTask(model="r3", model_options=TINY, task=dm.task_spec, ema_decay=None)
    task.set_statistics(dm.training_targets())
    res = quiet_trainer().test(task, dm, verbose=False)[0]
    assert set(res) == {"test/loss", "test/mae_alpha_bohr3", "test/mae_u0_meV"}
    batch = Batch.from_data_list(mols)
    with torch.no_grad():
        pred = task(batch)
    mae = (pred - batch.y).abs().mean(0)
    assert res["test/mae_alpha_bohr3"] == pytest.approx(float(mae[0]), rel=1e-5)
    assert res["test/mae_u0_meV"] == pytest.approx(float(mae[1]), rel=1e-5)
    summary = task.last_results["test"]
    assert summary["targets"]["u0"]["unit"] == "meV"
    assert summary["targets"]["alpha"]["unit"] == "bohr^3"
    assert summary["count"] == 6 and summary["pred"].shape == (6, 2)


def test_node_vector_task_trains_and_reports_mse():
    g = torch.Generator().manual_seed(0)
    items = []
    for _ in range(12):
        pos = torch.randn(5, 3, generator=g)
        vel = torch.randn(5, 1, 3, generator=g)
        items.append(Data(pos=pos, vec=vel, x=torch.ones(5, 1), y=pos + 0.1 * vel[:, 0]))
    dm = DatasetDataModule(nbody_task(), train=items, val=items, test=items, batch_size=4)
    torch.manual_seed(0)
    task = RegressionTask(
        model="r3",
        model_options={**TINY, "cutoff": None},
        task=nbody_task(),
        loss="mse",
        test_rotations=2,
        rotation_augment=True,
    )
    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(task, dm)
    res = trainer.test(task, dm, verbose=False)[0]
    assert {"test/loss", "test/mse_pos", "test/mae_pos"} <= set(res)
    assert task.last_results["test"]["pred"].shape == (60, 3)


# ----------------------------------------------------------------------------------------------
# rotations
# ----------------------------------------------------------------------------------------------


def test_random_rotations_and_batch_rotation():
    g = torch.Generator().manual_seed(0)
    rot = random_rotations(5, g)
    eye = torch.eye(3, dtype=torch.float64).expand(5, 3, 3)
    torch.testing.assert_close(rot @ rot.transpose(1, 2), eye)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(5, dtype=torch.float64))
    data = [
        Data(pos=torch.randn(n, 3), vec=torch.randn(n, 1, 3), y=torch.randn(n, 3)) for n in (2, 3)
    ]
    batch = Batch.from_data_list(data)
    r = random_rotations(2, g)
    out = rotate_batch(batch, r, rotate_y=True)
    torch.testing.assert_close(out.pos[:2], batch.pos[:2] @ r[0].float().T)
    torch.testing.assert_close(out.vec[2:, 0], batch.vec[2:, 0] @ r[1].float().T)
    torch.testing.assert_close(out.y[2:], batch.y[2:] @ r[1].float().T)
    torch.testing.assert_close(batch.pos, Batch.from_data_list(data).pos)  # input untouched
    back = unrotate_vectors(out.vec, r, batch)
    torch.testing.assert_close(back, batch.vec, atol=1e-6, rtol=0)


def test_sign_augment_flips_the_scalars_of_whole_graphs_only():
    from types import SimpleNamespace

    data = [
        Data(
            pos=torch.randn(5, 3), vec=torch.randn(5, 1, 3), x=torch.ones(5, 1), y=torch.randn(5, 3)
        )
        for _ in range(16)
    ]
    batch = Batch.from_data_list(data)
    task = RegressionTask(
        model="r3", model_options={**TINY, "cutoff": None}, task=nbody_task(), sign_augment=True
    )
    task._trainer = SimpleNamespace(world_size=1, global_rank=0, global_step=0)
    out = task._augment(batch)
    sign = out.x[:, 0].view(16, 5)
    assert bool((sign == sign[:, :1]).all())  # one sign per graph
    assert 0 < int((sign[:, 0] < 0).sum()) < 16  # some graphs flipped, some not
    assert torch.equal(out.pos, batch.pos) and torch.equal(out.y, batch.y)  # no rotation asked
    assert torch.equal(batch.x, torch.ones(80, 1))  # the caller's batch is untouched
    again = task._augment(batch)  # the same step draws the same signs
    assert torch.equal(again.x, out.x)
    with pytest.raises(ValueError, match="sign_augment"):
        RegressionTask(model="r3", task=nbody_task(), sign_augment=1)


# ----------------------------------------------------------------------------------------------
# samplers and loaders
# ----------------------------------------------------------------------------------------------


def test_sampler_order_depends_on_seed_and_epoch_only():
    a, b = EpochSampler(20, seed=3), EpochSampler(20, seed=3)
    a.set_epoch(2), b.set_epoch(2)
    assert list(a) == list(b) and sorted(a) == list(range(20))
    b.set_epoch(3)
    assert list(a) != list(b)
    assert list(EpochSampler(20, seed=4)) != list(EpochSampler(20, seed=3))


def test_ddp_shards_form_the_single_process_global_batches():
    n, local, world = 37, 4, 2
    one = EpochSampler(n, seed=1, drop_last=True)
    one.set_epoch(5)
    order = list(one)
    shards = []
    for rank in range(world):
        s = EpochSampler(n, seed=1, num_replicas=world, rank=rank, drop_last=True)
        s.set_epoch(5)
        shards.append(list(s))
    steps = len(shards[0]) // local
    assert steps == n // (local * world)
    for k in range(steps):
        merged = sorted(x for sh in shards for x in sh[k * local : (k + 1) * local])
        assert merged == sorted(order[k * local * world : (k + 1) * local * world])


def test_eval_padding_counts_every_item_once():
    n, world = 7, 3
    seen, weights = [], []
    ds = WeightedDataset([Data(pos=torch.zeros(1, 3), i=torch.tensor([i])) for i in range(n)])
    for rank in range(world):
        s = EpochSampler(n, shuffle=False, num_replicas=world, rank=rank, pad=True)
        assert len(s) == 3
        for idx in s:
            d = ds[idx]
            seen.append(int(d.i))
            weights.append(float(d.weight))
    assert sorted(i for i, w in zip(seen, weights, strict=True) if w == 1.0) == list(range(n))
    assert weights.count(0.0) == 2


def test_resumable_loader_skips_consumed_batches():
    data = [Data(pos=torch.zeros(1, 3), i=torch.tensor([i])) for i in range(24)]

    def loader():
        s = EpochSampler(24, seed=0, drop_last=True)
        return ResumableLoader(data, batch_size=4, sampler=s, drop_last=True)

    full = loader()
    full.sampler.set_epoch(1)
    expected = [b.i.tolist() for b in full]
    first = loader()
    first.sampler.set_epoch(1)
    it = iter(first)
    got = [next(it).i.tolist() for _ in range(2)]
    state = first.state_dict()
    assert state == {"epoch": 1, "batches": 2}
    resumed = loader()
    resumed.load_state_dict(state)
    resumed.sampler.set_epoch(1)
    assert len(resumed) == 6  # Lightning expects the full epoch length
    got += [b.i.tolist() for b in resumed]
    assert got == expected
    assert resumed.state_dict() == {"epoch": 1, "batches": 6}
    resumed.sampler.set_epoch(2)  # the next epoch is complete again
    assert len(list(resumed)) == 6


# ----------------------------------------------------------------------------------------------
# checkpoints
# ----------------------------------------------------------------------------------------------


def test_atomic_checkpoint_io_never_leaves_a_partial_file(tmp_path):
    io = AtomicCheckpointIO()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"a": torch.arange(3)}, path)
    assert torch.equal(io.load_checkpoint(path)["a"], torch.arange(3))

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        io.save_checkpoint({"a": Boom()}, path)
    assert torch.equal(io.load_checkpoint(path)["a"], torch.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_checkpoint_of_another_task_is_refused(tmp_path):
    task = tiny_task(["homo"])
    path = tmp_path / "homo.ckpt"
    torch.save(
        {
            "state_dict": task.state_dict(),
            "hyper_parameters": dict(task.hparams),
            "pytorch-lightning_version": L.__version__,
        },
        path,
    )
    other = tiny_task(["lumo"])
    with pytest.raises(ValueError, match="trained on task"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other.on_load_checkpoint(torch.load(path, weights_only=False))
    assert math.isfinite(float(RegressionTask.load_from_checkpoint(path).target_scale[0]))


def test_nbody_data_module_end_to_end(tmp_path, monkeypatch):
    from regconv.data import nbody

    for split, n in (("train", 16), ("val", 8), ("test", 8)):
        monkeypatch.setitem(nbody.SPLIT_SIZES, split, n)  # tiny splits, generated in tmp_path
    dm = NBodyDataModule(num_train=16, root=str(tmp_path), batch_size=8, eval_batch_size=8)
    assert dm.task_spec == nbody_task()
    torch.manual_seed(0)
    task = RegressionTask(
        model="r3", model_options={**TINY, "cutoff": None}, task=dm.task_spec, loss="mse"
    )
    trainer = quiet_trainer(max_epochs=2)
    trainer.fit(task, dm)
    disp = torch.cat([d.y - d.pos for d in dm.dataset("train")])
    assert float(task.target_scale) == pytest.approx(float(disp.square().mean().sqrt()), rel=1e-5)
    res = trainer.test(task, dm, verbose=False)[0]
    assert res["test/mse_pos"] > 0
    batch = Batch.from_data_list([dm.dataset("test")[i] for i in range(8)])
    with torch.no_grad():
        pred = task(batch)
        manual = batch.pos + task.target_scale * task.ema.module(batch)[:, 0]
    torch.testing.assert_close(pred, manual)
    mse = (pred - batch.y).square().mean().item()
    assert res["test/mse_pos"] == pytest.approx(mse, rel=1e-5)
    info = dm.split_info()
    assert info["dataset"] == "nbody" and info["sizes"] == {"train": 16, "val": 8, "test": 8}


def test_nbody_galilean_reference_end_to_end(tmp_path, monkeypatch):
    from regconv.data import nbody

    for split, n in (("train", 16), ("val", 8), ("test", 8)):
        monkeypatch.setitem(nbody.SPLIT_SIZES, split, n)  # tiny splits, generated in tmp_path
    dm = NBodyDataModule(
        num_train=16, root=str(tmp_path), batch_size=8, eval_batch_size=8, galilean=True
    )
    torch.manual_seed(0)
    task = RegressionTask(
        model="r3",
        model_options={**TINY, "cutoff": None},
        task=dm.task_spec,
        loss="mse",
        rotation_augment=True,
    )
    trainer = quiet_trainer(max_epochs=1)
    trainer.fit(task, dm)
    disp = torch.cat([d.y - d.base for d in dm.dataset("train")])
    assert float(task.target_scale) == pytest.approx(float(disp.square().mean().sqrt()), rel=1e-5)
    assert dm.split_info()["galilean"] is True

    batch = Batch.from_data_list([dm.dataset("test")[i] for i in range(8)])
    with torch.no_grad():
        pred = task(batch)
        manual = batch.base + task.target_scale * task.ema.module(batch)[:, 0]
        torch.testing.assert_close(pred, manual)
        # a boost u of every velocity moves the reference by u T (T = 1) and nothing else
        u = torch.tensor([0.3, -0.2, 0.1])
        boosted = batch.clone()
        boosted.base = batch.base + u
        torch.testing.assert_close(task(boosted), pred + u)
    res = trainer.test(task, dm, verbose=False)[0]
    assert res["test/mse_pos"] == pytest.approx((pred - batch.y).square().mean().item(), rel=1e-5)

    rot = random_rotations(batch.num_graphs, torch.Generator().manual_seed(3))
    before = batch.base.clone()
    moved = rotate_batch(batch, rot, rotate_y=True)
    per_node = rot[batch.batch].to(batch.base.dtype)
    torch.testing.assert_close(moved.base, torch.einsum("nij,nj->ni", per_node, batch.base))
    assert torch.equal(batch.base, before)  # the caller's batch is not mutated


def test_nbody_data_module_reads_the_published_initial_states(tmp_path, monkeypatch):
    from regconv.data import nbody

    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        monkeypatch.setitem(nbody.SPLIT_SIZES, split, n)  # tiny splits, generated in tmp_path
    dm = NBodyDataModule(num_train=4, root=str(tmp_path), batch_size=2, source="published")
    dm.prepare_data()
    assert (tmp_path / "published-train.npz").exists() and not (tmp_path / "train.npz").exists()
    info = dm.split_info()
    assert info["source"] == "published" and info["generator_seeds"] == {"stream": 43}
    assert info["sizes"] == {"train": 4, "val": 2, "test": 2}
    loc0, _, q = nbody.sample_published_initial_conditions("test", 2)
    item = dm.dataset("test")[1]
    assert torch.equal(item.charges, torch.from_numpy(q[1]).float())
    with pytest.raises(ValueError, match="source"):
        NBodyDataModule(source="egnn")
