"""The Z-order renumbering of nodes and its use by the models (results equal up to round-off)."""

import pytest
import torch

from regconv import models
from regconv.graph import spatial_order
from regconv.testing import random_molecules


def test_spatial_order_is_a_batch_preserving_permutation():
    batch = random_molecules(4, atoms=(20, 40), seed=40)
    perm = spatial_order(batch.pos, batch.batch, 1.0)
    assert torch.equal(torch.sort(perm).values, torch.arange(batch.pos.shape[0]))
    assert bool((batch.batch[perm][1:] >= batch.batch[perm][:-1]).all())


@pytest.mark.parametrize("extra", [{}, {"table": {"step": 0.1}}])
def test_z_order_processing_changes_nothing_but_round_off(monkeypatch, extra):
    from regconv.graph import NodeOrder

    batch = random_molecules(3, atoms=(15, 30), seed=41, in_features=2, vector_in=1)
    torch.manual_seed(0)
    kw = dict(
        hidden=8, layers=2, basis={"dim": 8}, cutoff=2.5, block={"layer_scale": 1.0},
        in_features=2, vector_in=1,
    )  # fmt: skip
    r3s2 = models.create("r3s2", space={"num_orientations": 6}, **kw, **extra).double()
    r3 = models.create("r3", output="node_vector", num_outputs=2, **kw, **extra).double()
    ref = [r3s2(batch), r3(batch)]
    monkeypatch.setattr(NodeOrder, "MIN_NODES", 0)
    out = [r3s2(batch), r3(batch)]
    for a, b in zip(out, ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
