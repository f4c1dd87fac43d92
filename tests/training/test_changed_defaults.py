"""Defaults that changed in a release: a checkpoint computes what it computed when it was written.

Release 0.2 made the C¹ cubic table the default kernel of ``r3s2``; a checkpoint without
``regconv_version`` (release 0.1) or with an older one loads with the exact kernel. Release 0.3
gave its spatial kernel basis Gaussians of the pair distance; checkpoints of 0.1 and 0.2 load
without them. Release 0.4 made the quadratic B-spline the table's interpolant; checkpoints of 0.2
and 0.3 load with the cubic one.
"""

from __future__ import annotations

import pytest
import torch

import regconv
from regconv import models
from regconv.models import legacy
from regconv.testing import random_molecules
from regconv.training import QM9DataModule, RegressionTask
from regconv.training.inference import Predictor
from tests.helpers import quiet_trainer

TINY = {"hidden": 8, "layers": 1, "basis": {"dim": 8}, "space": {"num_orientations": 8}}


def test_options_of_older_releases_get_the_old_defaults():
    # (the flat options of those releases come back as today's components: table_step None and
    # table_order "linear" are the exact kernel, table=None; basis_radial is basis.radial)
    old = legacy.upgrade_options("r3s2", {"hidden": 8})
    assert old == ("r3s2", {"hidden": 8, "table": None, "basis": {"radial": 0}})
    assert legacy.upgrade_options("r3s2", {"hidden": 8}, "0.1.0") == old
    # release 0.2: the table stays (cubic), the distance Gaussians go
    assert legacy.upgrade_options("r3s2", {"hidden": 8}, "0.2.0") == (
        "r3s2", {"hidden": 8, "basis": {"radial": 0}, "table": {"order": "cubic"}}
    )  # fmt: skip
    # release 0.3: the cubic table
    assert legacy.upgrade_options("r3s2", {"hidden": 8}, "0.3.0") == (
        "r3s2", {"hidden": 8, "table": {"order": "cubic"}}
    )  # fmt: skip
    # an option given explicitly stays; only the one left to its default is set
    kept = legacy.upgrade_options("r3s2", {"table_step": 0.05, "basis_radial": 8}, "0.1.0")[1]
    assert kept == {"table": {"step": 0.05, "order": "linear"}, "basis": {"radial": 8}}
    # today's form is not touched by the changed defaults either
    given = {"table": {"step": 0.05}, "basis": {"radial": 8}}
    assert legacy.upgrade_options("r3s2", given, "0.1.0")[1] == given
    now = legacy.upgrade_options("r3s2", {"hidden": 8}, regconv.__version__)
    assert now == ("r3s2", {"hidden": 8})
    assert legacy.upgrade_options("r3", {"hidden": 8}, "0.1.0") == ("r3", {"hidden": 8})
    with pytest.raises(ValueError, match="release"):
        legacy.upgrade_options("r3s2", {}, "zero.one")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Checkpoints as today's release, release 0.2 and release 0.1 wrote them: ``(new, v02,
    old)``; the last two hold the same weights, of a model without the distance Gaussians."""
    tmp = tmp_path_factory.mktemp("defaults")
    dm = QM9DataModule(target="homo", train_subset=16, val_subset=8, test_subset=8, batch_size=8)
    paths = []
    for options in (TINY, {**TINY, "basis": {**TINY["basis"], "radial": 0}}):
        torch.manual_seed(0)
        task = RegressionTask(model="r3s2", model_options=options, ema_decay=0.9)
        trainer = quiet_trainer(max_steps=2, limit_val_batches=0, default_root_dir=tmp)
        trainer.fit(task, dm)
        paths.append(tmp / f"{len(paths)}.ckpt")
        trainer.save_checkpoint(paths[-1])
    new = paths[0]
    ckpt = torch.load(paths[1], map_location="cpu", weights_only=False)
    assert ckpt["regconv_version"] == regconv.__version__
    # as release 0.2 saved them: the flat options of its day, the radial basis left to its default
    ckpt["hyper_parameters"]["model_options"] = {
        "hidden": 8, "layers": 1, "basis_dim": 8, "num_orientations": 8
    }
    ckpt["regconv_version"] = "0.2.0"
    v02 = tmp / "v02.ckpt"
    torch.save(ckpt, v02)
    del ckpt["regconv_version"]  # as release 0.1 wrote them
    old = tmp / "old.ckpt"
    torch.save(ckpt, old)
    return new, v02, old


def _kernels(net) -> tuple:
    radial = net.spatial_basis.radial
    table = (None, "linear") if net.table is None else (net.table.step, net.table.order)
    return *table, 0 if radial is None else radial.out_dim


def test_a_new_checkpoint_keeps_the_table_and_an_old_one_the_exact_kernel(checkpoint):
    new, v02, old = checkpoint
    assert _kernels(Predictor.from_checkpoint(new).net) == (0.1, "quadratic", 50)
    assert _kernels(Predictor.from_checkpoint(v02).net) == (0.1, "cubic", 0)
    assert _kernels(RegressionTask.load_from_checkpoint(v02).net) == (0.1, "cubic", 0)
    assert _kernels(Predictor.from_checkpoint(old).net) == (None, "linear", 0)
    back = RegressionTask.load_from_checkpoint(new)
    assert _kernels(back.net) == _kernels(back.ema.module) == (0.1, "quadratic", 50)
    back_old = RegressionTask.load_from_checkpoint(old)
    assert _kernels(back_old.net) == (None, "linear", 0)
    assert _kernels(back_old.ema.module) == (None, "linear", 0)
    # the options it will save next say so explicitly
    assert back_old.hparams.model_options["table"] is None
    assert back_old.hparams.model_options["basis"]["radial"] == 0


def test_an_old_checkpoint_predicts_with_the_exact_kernel(checkpoint):
    _, v02, old = checkpoint
    batch = random_molecules(3, seed=41, dtype=torch.float32)
    exact = Predictor.from_checkpoint(old)
    table = Predictor.from_checkpoint(v02)
    torch.manual_seed(0)
    hand = models.create("r3s2", **{**TINY, "basis": {"dim": 8, "radial": 0}}, table=None)
    hand.load_state_dict(table.net.state_dict())
    with torch.no_grad():
        for net in (exact.net, table.net, hand):  # make the blocks count (layer scale 1e-6)
            for name, p in net.named_parameters():
                if name.endswith("gamma"):
                    p.fill_(1.0)
        ref = exact.net(batch)
        # same weights, the exact kernel built by hand: identical outputs
        assert torch.equal(hand.eval()(batch), ref)
        # and the cubic table differs from it only by its interpolation error, in float64, where
        # it is resolved (after two training steps it can be below float32's round-off)
        b64 = random_molecules(3, seed=41, dtype=torch.float64)
        ref64 = exact.net.double()(b64)
        gap = (table.net.double()(b64) - ref64).abs().max()
    assert 0 < float(gap) < 1e-3 * float(ref64.abs().max())
