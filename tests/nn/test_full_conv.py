"""FullGroupConv (kernel of the complete pair invariants) on small hand-made graphs."""

import pytest
import torch

from regconv.geometry import random_rotation
from regconv.kernels import KernelBasis
from regconv.nn import FullGroupConv
from regconv.spaces import R3S2

EDGE_INDEX = torch.tensor(
    [
        [1, 2, 0, 3, 0, 4, 2, 1],
        [0, 0, 1, 1, 2, 2, 3, 0],
    ]
)
N, O, C, K = 6, 4, 3, 5  # node 4 only sends, node 5 is isolated


def _conv(bias=True, seed=0):
    torch.manual_seed(seed)
    conv = FullGroupConv(C, K, bias=bias).double()
    if bias:
        with torch.no_grad():
            conv.bias.normal_()
    return conv


def _inputs(seed=1):
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(N, O, C, generator=gen, dtype=torch.float64, requires_grad=True)
    basis = torch.randn(
        EDGE_INDEX.shape[1], O, O, K, generator=gen, dtype=torch.float64, requires_grad=True
    )
    return f, basis


def _reference(conv, f, edge_index, basis):
    n, o_, c = f.shape
    out = [[f.new_zeros(c) for _ in range(o_)] for _ in range(n)]
    for e in range(edge_index.shape[1]):
        j, i = int(edge_index[0, e]), int(edge_index[1, e])
        for o in range(o_):
            for p in range(o_):
                out[i][o] = out[i][o] + (conv.kernel.weight @ basis[e, o, p]) * f[j, p] / o_
    res = torch.stack([torch.stack(row) for row in out])
    return res if conv.bias is None else res + conv.bias


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_full_conv_matches_slow_reference_in_values_and_gradients(bias):
    conv = _conv(bias)
    f, basis = _inputs()
    out = conv(f, EDGE_INDEX, basis)
    ref = _reference(conv, f, EDGE_INDEX, basis)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    cot = torch.randn(N, O, C, dtype=torch.float64)
    wrt = [f, basis, conv.kernel.weight] + ([conv.bias] if bias else [])
    for a, b in zip(
        torch.autograd.grad(out, wrt, cot), torch.autograd.grad(ref, wrt, cot), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_output_shape_covers_every_node_and_isolated_nodes_get_the_bias():
    conv = _conv()
    f, basis = _inputs()
    out = conv(f, EDGE_INDEX, basis)
    assert out.shape == (N, O, C)
    assert torch.equal(out[5], conv.bias.expand(O, C))
    assert torch.equal(out[4], conv.bias.expand(O, C))  # sends but does not receive


def test_fibre_basis_argument_is_accepted_and_ignored():
    conv = _conv()
    f, basis = _inputs()
    assert torch.equal(conv(f, EDGE_INDEX, basis, torch.randn(O, O, 2)), conv(f, EDGE_INDEX, basis))


def test_relabelling_the_nodes_permutes_the_output():
    conv = _conv()
    f, basis = _inputs()
    out = conv(f, EDGE_INDEX, basis)
    perm = torch.tensor([2, 5, 0, 4, 1, 3])  # new node k is old node perm[k]
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(N)
    order = torch.randperm(EDGE_INDEX.shape[1], generator=torch.Generator().manual_seed(0))
    moved = conv(f[perm], inv[EDGE_INDEX][:, order], basis[order])
    torch.testing.assert_close(moved, out[perm], rtol=1e-12, atol=1e-12)


def test_relabelling_the_fibre_on_both_sides_permutes_the_output():
    conv = _conv()
    f, basis = _inputs()
    out = conv(f, EDGE_INDEX, basis)
    sigma = torch.tensor([2, 0, 3, 1])
    moved = conv(f[:, sigma], EDGE_INDEX, basis[:, sigma][:, :, sigma])
    torch.testing.assert_close(moved, out[:, sigma], rtol=1e-12, atol=1e-12)


def test_grid_rotated_with_the_input_gives_the_same_output():
    # With the basis of R3S2.full_invariants, rotating the grid together with the relative
    # positions leaves the layer's output unchanged (to round-off).
    torch.manual_seed(2)
    space = R3S2(O).double()
    basis_fn = KernelBasis(space.full_dim, K, degree=2).double()
    conv = _conv()
    f, _ = _inputs()
    pos = torch.randn(N, 3, dtype=torch.float64)
    x_ij = pos[EDGE_INDEX[0]] - pos[EDGE_INDEX[1]]
    r = random_rotation(torch.Generator().manual_seed(7))
    out = conv(f, EDGE_INDEX, basis_fn(space.full_invariants(x_ij)))
    moved = conv(f, EDGE_INDEX, basis_fn(space.rotated(r).full_invariants(x_ij @ r.T)))
    torch.testing.assert_close(moved, out, rtol=1e-10, atol=1e-12)
