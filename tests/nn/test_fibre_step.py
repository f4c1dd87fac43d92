"""fibre_step, the convolution over the fibre shared by the separable convolutions."""

import pytest
import torch
from torch import nn

from regconv.kernels import KernelBasis
from regconv.nn import fibre_step
from regconv.spaces import R3S2, SE3

C, KF = 3, 4


def _fibre(kf=KF, seed=0):
    torch.manual_seed(seed)
    return nn.Linear(kf, C, bias=False).double()


def test_fibre_step_matches_an_explicit_loop():
    gen = torch.Generator().manual_seed(1)
    n, o_ = 3, 5
    g = torch.randn(n, o_, C, generator=gen, dtype=torch.float64)
    fb = torch.randn(o_, o_, KF, generator=gen, dtype=torch.float64)
    bias = torch.randn(C, generator=gen, dtype=torch.float64)
    fibre = _fibre()
    out = fibre_step(g, fibre, fb, bias)
    for i in range(n):
        for o in range(o_):
            acc = torch.zeros(C, dtype=torch.float64)
            for p in range(o_):
                acc += (fibre.weight @ fb[o, p]) * g[i, p]
            torch.testing.assert_close(out[i, o], acc / o_ + bias, rtol=1e-12, atol=1e-12)


def test_without_fibre_kernel_only_the_bias_is_added():
    g = torch.randn(4, 6, C, dtype=torch.float64)
    bias = torch.randn(C, dtype=torch.float64)
    assert torch.equal(fibre_step(g, None, None, bias), g + bias)
    # a fibre basis is ignored when the layer has no fibre kernel
    assert torch.equal(fibre_step(g, None, torch.randn(6, 6, 2), bias), g + bias)
    assert fibre_step(g, None, None, None) is g


def test_fibre_kernel_without_fibre_basis_raises():
    with pytest.raises(ValueError, match="fibre_basis"):
        fibre_step(torch.zeros(2, 3, C), _fibre().float(), None, None)


def _group_relabelling(frames: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """sigma with frames[sigma[o]] = h @ frames[o] (left multiplication permutes a group)."""
    moved = (h @ frames).reshape(-1, 1, 9)
    dist = (moved - frames.reshape(1, -1, 9)).abs().amax(-1)  # [O, O]
    sigma = dist.argmin(1)
    assert dist.min(1).values.max() < 1e-9
    assert sorted(sigma.tolist()) == list(range(frames.shape[0]))
    return sigma


@pytest.mark.parametrize("group", ["tetrahedral", "octahedral"])
def test_relabelling_the_fibre_by_a_group_element_permutes_the_output(group):
    # The fibre invariants R_o^T R_p are unchanged when every frame is multiplied by h on the
    # left, so a fibre kernel of them commutes with that relabelling of the fibre.
    space = SE3(group).double()
    torch.manual_seed(2)
    fb = KernelBasis(space.fibre_dim, KF, degree=2).double()(space.fibre_invariants())
    fibre = _fibre()
    bias = torch.randn(C, dtype=torch.float64)
    g = torch.randn(3, space.num_fibre, C, dtype=torch.float64)
    out = fibre_step(g, fibre, fb, bias)
    for k in (1, 5, space.num_fibre - 1):
        sigma = _group_relabelling(space.frames, space.frames[k])
        assert not torch.equal(sigma, torch.arange(space.num_fibre))
        torch.testing.assert_close(
            fibre_step(g[:, sigma], fibre, fb, bias), out[:, sigma], rtol=1e-12, atol=1e-12
        )


def test_on_a_group_fibre_a_constant_input_stays_constant():
    # Every row {R_o^T R_p}_p is the whole group, so every row of the kernel sums to the same.
    space = SE3("octahedral").double()
    torch.manual_seed(3)
    fb = KernelBasis(space.fibre_dim, KF, degree=2).double()(space.fibre_invariants())
    const = torch.randn(2, 1, C, dtype=torch.float64).expand(-1, space.num_fibre, -1)
    out = fibre_step(const, _fibre(), fb, None)
    torch.testing.assert_close(out, out[:, :1].expand_as(out), rtol=1e-12, atol=1e-12)


def test_on_a_fibonacci_fibre_a_constant_input_is_scaled_by_the_kernel_row_means():
    # The Fibonacci grid has no symmetry: the rows of the kernel differ, and so does the output
    # of a constant over the fibre. What holds is out(o) = c * mean_p k(n_o . n_p).
    space = R3S2(10).double()
    torch.manual_seed(4)
    fb = KernelBasis(space.fibre_dim, KF, degree=2).double()(space.fibre_invariants())
    fibre = _fibre()
    c = torch.randn(2, 1, C, dtype=torch.float64)
    out = fibre_step(c.expand(-1, space.num_fibre, -1), fibre, fb, None)
    row_means = fibre(fb).mean(1)  # [O, C]
    torch.testing.assert_close(out, c * row_means, rtol=1e-12, atol=1e-12)
    assert (row_means.amax(0) - row_means.amin(0)).min() > 1e-8  # genuinely not constant


def test_gradients_match_finite_differences_to_second_order():
    # the per-channel bmm is differentiated by autograd; forces need its second derivative
    gen = torch.Generator().manual_seed(5)
    g = torch.randn(3, 4, C, generator=gen, dtype=torch.float64, requires_grad=True)
    fb = torch.randn(4, 4, KF, generator=gen, dtype=torch.float64, requires_grad=True)
    fibre = _fibre()
    assert torch.autograd.gradcheck(lambda a, b: fibre_step(a, fibre, b, None), (g, fb))
    assert torch.autograd.gradgradcheck(lambda a, b: fibre_step(a, fibre, b, None), (g, fb))
