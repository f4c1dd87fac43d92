"""Whole models: the fused fast paths against the reference computation, and forces through them."""

import torch

from regconv.testing import random_molecules
from tests.helpers import small_r3s2


def _set_fused(model, flag):
    for m in model.modules():
        if "fused" in vars(type(m)):
            m.fused = flag


def test_fused_and_reference_r3s2_agree_in_values_and_gradients():
    batch = random_molecules(3, seed=20)
    model = small_r3s2()
    out = model(batch)
    grads = torch.autograd.grad(out.sum(), list(model.parameters()))
    _set_fused(model, False)
    ref = model(batch)
    grads_ref = torch.autograd.grad(ref.sum(), list(model.parameters()))
    assert torch.allclose(out, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, grads_ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_forces_through_the_fused_exact_kernel():
    # Double backward (training on forces) through kernel_message_sum matches the reference.
    batch = random_molecules(2, seed=21)
    model = small_r3s2()
    params = [p for p in model.parameters() if p.requires_grad]

    def force_loss_grads():
        pos = batch.pos.clone().requires_grad_()
        moved = batch.clone()
        moved.pos = pos
        forces = torch.autograd.grad(model(moved).sum(), pos, create_graph=True)[0]
        return forces, torch.autograd.grad(forces.square().sum(), params, allow_unused=True)

    forces, grads = force_loss_grads()
    _set_fused(model, False)
    forces_ref, grads_ref = force_loss_grads()
    assert torch.allclose(forces, forces_ref, rtol=1e-10, atol=1e-12)
    assert sum(g is not None for g in grads) > len(params) // 2
    for a, b in zip(grads, grads_ref, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-8, atol=1e-10)
