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


def test_gaussian_tails_stop_above_the_float32_denormals():
    from regconv.kernels.radial import GaussianRBF

    rbf = GaussianRBF(50, 4.9)  # centres 0.1 Å apart, width 0.1 Å: exponents down to -1200
    d = torch.tensor([0.0, 0.55, 4.9])
    g = rbf(d)  # [3, 50]
    tiny = torch.finfo(torch.float32).tiny  # the smallest normal float32
    assert (g >= tiny).all()
    torch.testing.assert_close(g.min(), torch.exp(torch.tensor(-30.0)))
    # near the centres they are the Gaussians themselves
    torch.testing.assert_close(g[0, :3], torch.exp(-0.5 * torch.arange(3.0) ** 2))
    torch.testing.assert_close(g[1, 5], torch.exp(torch.tensor(-0.5 * 0.25)), rtol=1e-5, atol=0)
