"""Whole models under ``torch.autocast`` to bfloat16 (mixed-precision training): the geometry
and the sums stay in float32, the channel products run in bfloat16."""

import torch

from regconv import models
from regconv.kernels.pair_features import PairGeometry
from regconv.kernels.table import TabulatedBasis
from regconv.testing import random_molecules


def _model():
    torch.manual_seed(0)
    return models.create("r3s2", hidden=16, layers=2, basis={"dim": 16},
                         space={"num_orientations": 8})  # fmt: skip


def test_kernel_inputs_are_float32_under_autocast():
    """The table's interpolation weights and cells come out bitwise the same with and without
    autocast: the invariants are computed in float32."""
    model = _model()
    batch = random_molecules(3, seed=5, dtype=torch.float32)
    src, dst = torch.randint(
        0, batch.num_nodes, (2, 40), generator=torch.Generator().manual_seed(1)
    )
    keep = src != dst
    edge_index = torch.stack([src[keep], dst[keep]])
    x_ij = (batch.pos[edge_index[0]] - batch.pos[edge_index[1]]) / model.basis.length_scale
    pairs = PairGeometry(edge_index, x_ij, model.basis.length_scale, None)
    ref, _ = model.kernel_bases(pairs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, _ = model.kernel_bases(pairs)
    assert isinstance(out, TabulatedBasis) and out.weights.dtype == torch.float32
    assert torch.equal(out.weights, ref.weights)
    assert torch.equal(out.plan.cells, ref.plan.cells)


def test_r3s2_trains_under_bfloat16_autocast_close_to_float32():
    model = _model()
    batch = random_molecules(4, seed=6, dtype=torch.float32)
    ref = model(batch)
    grads_ref = torch.autograd.grad(ref.square().sum(), list(model.parameters()))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
    grads = torch.autograd.grad(out.float().square().sum(), list(model.parameters()))
    scale = float(ref.abs().max())
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05 * scale)
    assert all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)
    flat, flat_ref = (
        torch.cat([g.flatten() for g in grads]),
        torch.cat([g.flatten() for g in grads_ref]),
    )
    cosine = torch.nn.functional.cosine_similarity(flat, flat_ref, dim=0)
    assert cosine > 0.99, f"gradient direction under autocast: cosine {float(cosine):.4f}"
