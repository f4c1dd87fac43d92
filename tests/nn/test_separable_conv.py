"""SeparableGroupConv on small hand-made graphs: against a slow reference, its three paths
(fused, unfused, tabulated) against each other, and its symmetries."""

import pytest
import torch

from regconv.kernels import CosineCutoff, KernelBasis, tabulate
from regconv.nn import SeparableGroupConv
from regconv.spaces import R3S2

# 5 nodes; node 4 only sends, 0 receives a doubled edge (1 -> 0 twice), 3 has a self-loop.
EDGE_INDEX = torch.tensor(
    [
        [1, 2, 0, 3, 0, 4, 2, 1, 3],
        [0, 0, 1, 1, 2, 2, 3, 0, 3],
    ]
)
N, O, C, K, KF = 5, 4, 3, 2, 2


def _conv(seed=0, fibre=True, bias=True, dtype=torch.float64):
    torch.manual_seed(seed)
    conv = SeparableGroupConv(C, K, KF if fibre else 0, bias=bias).to(dtype)
    if bias:
        with torch.no_grad():
            conv.bias.normal_()  # zero at init: make it visible
    return conv


def _inputs(seed=1, dtype=torch.float64, e=None):
    gen = torch.Generator().manual_seed(seed)
    e = EDGE_INDEX.shape[1] if e is None else e
    f = torch.randn(N, O, C, generator=gen, dtype=dtype, requires_grad=True)
    basis = torch.randn(e, O, K, generator=gen, dtype=dtype, requires_grad=True)
    fibre_basis = torch.randn(O, O, KF, generator=gen, dtype=dtype, requires_grad=True)
    return f, basis, fibre_basis


def _reference(conv, f, edge_index, basis, fibre_basis):
    """The formula of the docstring, one edge and one orientation at a time."""
    n, o_, c = f.shape
    g = [[f.new_zeros(c) for _ in range(o_)] for _ in range(n)]
    for e in range(edge_index.shape[1]):
        j, i = int(edge_index[0, e]), int(edge_index[1, e])
        for o in range(o_):
            kernel = conv.spatial.weight @ basis[e, o]  # [C]
            g[i][o] = g[i][o] + kernel * f[j, o]
    rows = []
    for i in range(n):
        per_o = []
        for o in range(o_):
            if conv.fibre is None:
                acc = g[i][o]
            else:
                acc = f.new_zeros(c)
                for p in range(o_):
                    acc = acc + (conv.fibre.weight @ fibre_basis[o, p]) * g[i][p]
                acc = acc / o_
            if conv.bias is not None:
                acc = acc + conv.bias
            per_o.append(acc)
        rows.append(torch.stack(per_o))
    return torch.stack(rows)


def _grads(out, cot, wrt, retain_graph=False):
    return torch.autograd.grad(out, wrt, cot, retain_graph=retain_graph)


@pytest.mark.parametrize("fibre", [True, False], ids=["fibre", "no-fibre"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_fused_conv_matches_slow_reference_in_values_and_gradients(fibre, bias):
    conv = _conv(fibre=fibre, bias=bias)
    f, basis, fibre_basis = _inputs()
    fb = fibre_basis if fibre else None
    out = conv(f, EDGE_INDEX, basis, fb)
    ref = _reference(conv, f, EDGE_INDEX, basis, fb)
    assert out.shape == (N, O, C)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)

    cot = torch.randn(N, O, C, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    wrt = [f, basis, conv.spatial.weight]
    if fibre:
        wrt += [conv.fibre.weight, fibre_basis]
    if bias:
        wrt.append(conv.bias)
    for a, b in zip(_grads(out, cot, wrt), _grads(ref, cot, wrt), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_unfused_path_equals_fused_path(dtype):
    conv = _conv(dtype=dtype)
    f, basis, fibre_basis = _inputs(dtype=dtype)
    cot = torch.randn(N, O, C, dtype=dtype)
    wrt = [f, basis, fibre_basis, conv.spatial.weight, conv.fibre.weight, conv.bias]
    fused = conv(f, EDGE_INDEX, basis, fibre_basis)
    g_fused = _grads(fused, cot, wrt)
    conv.fused = False  # instance attribute shadows the class attribute
    assert SeparableGroupConv.fused is True
    plain = conv(f, EDGE_INDEX, basis, fibre_basis)
    g_plain = _grads(plain, cot, wrt)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fused, plain, **tol)
    for a, b in zip(g_fused, g_plain, strict=True):
        torch.testing.assert_close(a, b, **tol)


@pytest.mark.parametrize("with_envelope", [False, True], ids=["plain", "envelope"])
def test_tabulated_basis_equals_dense_path_on_its_dense_basis(with_envelope):
    torch.manual_seed(3)
    space = R3S2(O).double()
    basis_fn = KernelBasis(space.spatial_dim, K, degree=2).double()
    conv = _conv()
    src, dst = EDGE_INDEX
    pos = torch.randn(N, 3, dtype=torch.float64)
    x_ij = pos[src] - pos[dst]
    invariants = space.spatial_invariants(x_ij)  # [E, O, 2]
    envelope = CosineCutoff(4.0).double()(x_ij.norm(dim=-1)) if with_envelope else None
    # chunk_rows=8: two edges (x O = 4 rows) per chunk, so the per-chunk plan is exercised
    tab = tabulate(basis_fn, invariants, 0.4, src, dst, envelope=envelope, chunk_rows=8)
    assert tab.shape == (EDGE_INDEX.shape[1], O, K)
    assert len(tab.plan.chunks) > 1
    f, _, fibre_basis = _inputs()
    cot = torch.randn(N, O, C, dtype=torch.float64)
    params = [conv.spatial.weight, conv.fibre.weight, conv.bias, *basis_fn.parameters()]

    out_tab = conv(f, EDGE_INDEX, tab, fibre_basis)
    g_tab = _grads(
        out_tab, cot, [f, fibre_basis, *params], retain_graph=True
    )  # tab.values is shared
    out_dense = conv(f, EDGE_INDEX, tab.dense(), fibre_basis)
    g_dense = _grads(out_dense, cot, [f, fibre_basis, *params])
    torch.testing.assert_close(out_tab, out_dense, rtol=1e-12, atol=1e-12)
    for a, b in zip(g_tab, g_dense, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
    # and the interpolated basis is close to (not equal to) the exact one at this step
    exact = basis_fn(invariants)
    if envelope is not None:
        exact = exact * envelope.view(-1, 1, 1)
    assert (tab.dense() - exact).abs().max() < 0.05


def test_relabelling_the_nodes_permutes_the_output():
    conv = _conv()
    f, basis, fibre_basis = _inputs()
    out = conv(f, EDGE_INDEX, basis, fibre_basis)
    perm = torch.tensor([3, 0, 4, 1, 2])  # new node k is old node perm[k]
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(N)
    edge_order = torch.randperm(EDGE_INDEX.shape[1], generator=torch.Generator().manual_seed(0))
    new_edges = inv[EDGE_INDEX][:, edge_order]
    moved = conv(f[perm], new_edges, basis[edge_order], fibre_basis)
    torch.testing.assert_close(moved, out[perm], rtol=1e-12, atol=1e-12)


def test_node_without_incoming_edges_gets_the_fibre_step_of_zero_plus_bias():
    conv = _conv()
    f, basis, fibre_basis = _inputs()
    out = conv(f, EDGE_INDEX, basis, fibre_basis)
    assert not (EDGE_INDEX[1] == 4).any()
    assert torch.equal(out[4], conv.bias.expand(O, C))  # fibre kernel of zero is zero
    # ... and what it holds reaches others only through its outgoing edges
    f2 = f.detach().clone()
    f2[4] += 100.0
    out2 = conv(f2, EDGE_INDEX, basis, fibre_basis)
    receives_from_4 = EDGE_INDEX[1][EDGE_INDEX[0] == 4].unique()
    others = torch.tensor([i for i in range(N) if i not in receives_from_4.tolist()])
    assert torch.equal(out2[others], out[others])
    assert not torch.allclose(out2[receives_from_4], out[receives_from_4])


def test_empty_graph_gives_bias_everywhere():
    conv = _conv()
    f, _, fibre_basis = _inputs()
    no_edges = torch.zeros(2, 0, dtype=torch.long)
    out = conv(f, no_edges, torch.zeros(0, O, K, dtype=torch.float64), fibre_basis)
    assert torch.equal(out, conv.bias.expand(N, O, C))


def test_missing_fibre_basis_raises_when_the_layer_has_a_fibre_kernel():
    conv = _conv(fibre=True)
    f, basis, _ = _inputs()
    with pytest.raises(ValueError, match="fibre_basis"):
        conv(f, EDGE_INDEX, basis)
    # without a fibre kernel the fibre basis is not needed
    _conv(fibre=False)(f, EDGE_INDEX, basis)
