"""The kernel basis: the fused MLP path against the layers."""

import torch

from regconv.kernels import KernelBasis
from regconv.ops import (
    gelu_mlp2,
)


def test_fused_kernel_basis_matches_the_layers_in_values_and_gradients():
    torch.manual_seed(0)
    basis = KernelBasis(2, 8, 3).double()
    inv = torch.randn(700, 3, 2, dtype=torch.float64)
    g = torch.randn(700, 3, 8, dtype=torch.float64)
    out = basis(inv)
    grads = torch.autograd.grad(out, list(basis.parameters()), g)
    with torch.no_grad():
        assert torch.allclose(basis(inv), out)
    basis.fused = False
    ref = basis(inv)
    grads_ref = torch.autograd.grad(ref, list(basis.parameters()), g)
    assert out.shape == (700, 3, 8)
    assert torch.allclose(out, ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, grads_ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    basis.fused = True
    x = torch.randn(4, 2, dtype=torch.float64, requires_grad=True)  # needs d/dx: plain layers
    assert torch.autograd.gradcheck(basis, (x,))
    w1, b1, w2, b2 = (p.detach().requires_grad_() for p in basis.mlp.parameters())
    feats = torch.randn(5, 9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: gelu_mlp2(*a, 2), (feats, w1, b1, w2, b2))
