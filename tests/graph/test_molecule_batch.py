"""regconv.graph.MoleculeBatch: the plain-torch batch of inference gives every model the
predictions a PyG Batch gives, moves and copies like one, and refuses malformed input."""

from __future__ import annotations

import pytest
import torch

from regconv import models
from regconv.graph import transform_batch
from regconv.graph.molecules import MoleculeBatch
from regconv.testing.molecules import random_molecules


def both_batches(n: int = 3, seed: int = 0, inputs: int = 0):
    """A PyG batch and the same molecules as a MoleculeBatch (with ``inputs`` scalar and vector
    node features copied over: the n-body variants read them)."""
    pyg = random_molecules(n, seed=seed, in_features=inputs, vector_in=inputs)
    mols = [(d.z, d.pos) for d in pyg.to_data_list()]
    plain = MoleculeBatch.from_molecules(mols, dtype=torch.float64)
    if inputs:
        plain.x, plain.vec = pyg.x.clone(), pyg.vec.clone()
    return pyg, plain


@pytest.mark.parametrize("name", models.available())
def test_every_model_predicts_the_same_on_both_batches(name):
    torch.manual_seed(0)
    inputs = int(name.endswith("-nbody"))
    net = models.create(name, in_features=inputs, vector_in=inputs).double().eval()
    pyg, plain = both_batches(inputs=inputs)
    with torch.no_grad():
        torch.testing.assert_close(net(plain), net(pyg), rtol=0, atol=1e-12)


def test_the_batch_vector_ptr_and_transforms_match_pyg():
    pyg, plain = both_batches(4, seed=1)
    assert torch.equal(plain.batch, pyg.batch) and torch.equal(plain.ptr, pyg.ptr)
    assert plain.num_graphs == pyg.num_graphs == 4 and plain.num_nodes == pyg.num_nodes
    rot = torch.linalg.qr(torch.randn(4, 3, 3, dtype=torch.float64))[0]
    moved = transform_batch(plain, rotation=rot, translation=torch.ones(3))
    torch.testing.assert_close(moved.pos, transform_batch(pyg, rotation=rot).pos + 1.0)
    assert torch.equal(plain.pos, pyg.pos)  # the caller's batch is untouched


def test_clone_and_to_copy_and_keep_integer_dtypes():
    _, plain = both_batches()
    copy = plain.clone()
    copy.pos.add_(1.0)
    assert not torch.equal(copy.pos, plain.pos)
    single = plain.to(torch.float32)
    assert single.pos.dtype == torch.float32 and single.z.dtype == torch.long
    assert sorted(plain.keys()) == ["batch", "pos", "z"]
    assert "num_graphs=3" in repr(plain)


def test_malformed_input_is_refused():
    with pytest.raises(ValueError, match="no molecules"):
        MoleculeBatch.from_molecules([])
    with pytest.raises(ValueError, match=r"pos \[N, 3\]"):
        MoleculeBatch(torch.ones(3, dtype=torch.long), torch.zeros(3, 2), torch.zeros(3), 1)
    with pytest.raises(ValueError, match="batch must be"):
        MoleculeBatch(torch.ones(3, dtype=torch.long), torch.zeros(3, 3), torch.zeros(2), 1)
    with pytest.raises(ValueError, match="molecule 1: 2 atomic numbers, 3 positions"):
        MoleculeBatch.from_molecules([([1], [[0.0, 0, 0]]), ([1, 1], torch.zeros(3, 3))])
