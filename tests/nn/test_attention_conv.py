"""AttentionGroupConv on small hand-made graphs: the softmax, a slow reference, edge weights."""

import math

import pytest
import torch

from regconv.nn import AttentionGroupConv

# node 0 receives from 1, 2, 3 (and 1 twice), node 1 from 0 and 3, node 2 only from 4,
# node 3 from itself; node 4 receives nothing.
EDGE_INDEX = torch.tensor(
    [
        [1, 2, 3, 1, 0, 3, 4, 3],
        [0, 0, 0, 0, 1, 1, 2, 3],
    ]
)
N, O, C, K, KF, H = 5, 3, 4, 3, 2, 2


def _conv(heads=H, fibre=True, bias=True, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    conv = AttentionGroupConv(C, K, KF if fibre else 0, heads=heads, bias=bias).to(dtype)
    if bias:
        with torch.no_grad():
            conv.bias.normal_()
    return conv


def _inputs(seed=1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(N, O, C, generator=gen, dtype=dtype, requires_grad=True)
    basis = torch.randn(EDGE_INDEX.shape[1], O, K, generator=gen, dtype=dtype, requires_grad=True)
    fibre_basis = torch.randn(O, O, KF, generator=gen, dtype=dtype, requires_grad=True)
    weight = torch.rand(EDGE_INDEX.shape[1], generator=gen, dtype=dtype) * 0.9 + 0.1
    return f, basis, fibre_basis, weight


def _reference(conv, f, edge_index, basis, fibre_basis, edge_weight=None):
    """The docstring's formulas, one (node, orientation, head) at a time."""
    n, o_, c = f.shape
    hd = c // conv.heads
    q = f @ conv.query.weight.T  # [N, O, C]
    k = f @ conv.key.weight.T
    g = [[f.new_zeros(c) for _ in range(o_)] for _ in range(n)]
    for i in range(n):
        incoming = [e for e in range(edge_index.shape[1]) if int(edge_index[1, e]) == i]
        if not incoming:
            continue
        for o in range(o_):
            per_head = []
            for h in range(conv.heads):
                ch = slice(h * hd, (h + 1) * hd)
                logits = []
                for e in incoming:
                    j = int(edge_index[0, e])
                    ell = (q[i, o, ch] * k[j, o, ch]).sum() / math.sqrt(hd)
                    ell = ell + conv.logit_bias.weight[h] @ basis[e, o]
                    if edge_weight is not None:
                        ell = ell + torch.log(edge_weight[e])
                    logits.append(ell)
                logits = torch.stack(logits)
                alpha = torch.exp(logits - logits.max())
                alpha = alpha / alpha.sum()
                msg = f.new_zeros(hd)
                for a, e in zip(alpha, incoming, strict=True):
                    j = int(edge_index[0, e])
                    msg = msg + a * (conv.spatial.weight[ch] @ basis[e, o]) * f[j, o, ch]
                per_head.append(msg)
            g[i][o] = torch.cat(per_head)
    rows = []
    for i in range(n):
        per_o = []
        for o in range(o_):
            acc = g[i][o]
            if conv.fibre is not None:
                acc = sum((conv.fibre.weight @ fibre_basis[o, p]) * g[i][p] for p in range(o_)) / o_
            if conv.bias is not None:
                acc = acc + conv.bias
            per_o.append(acc)
        rows.append(torch.stack(per_o))
    return torch.stack(rows)


@pytest.mark.parametrize("use_weight", [False, True], ids=["no-weight", "weight"])
def test_attention_matches_slow_reference_in_values_and_gradients(use_weight):
    conv = _conv()
    f, basis, fibre_basis, weight = _inputs()
    w = weight if use_weight else None
    out = conv(f, EDGE_INDEX, basis, fibre_basis, edge_weight=w)
    ref = _reference(conv, f, EDGE_INDEX, basis, fibre_basis, w)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    cot = torch.randn(N, O, C, dtype=torch.float64)
    wrt = [f, basis, fibre_basis, *conv.parameters()]
    for a, b in zip(
        torch.autograd.grad(out, wrt, cot), torch.autograd.grad(ref, wrt, cot), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)


def test_attention_weights_sum_to_one_over_incoming_edges(dtype):
    # Values that are the same for every sender (features constant over nodes, kernel = 1): the
    # output is sum_j alpha_ij * v = v exactly when the weights of each (i, o, head) sum to 1,
    # whatever the logits (random logit biases and edge weights make them differ per edge).
    conv = _conv(fibre=False, bias=False, dtype=dtype)
    _, basis, _, weight = _inputs(dtype=dtype)
    basis = basis.detach().clone()
    basis[..., 0] = 1.0
    with torch.no_grad():
        conv.spatial.weight.zero_()
        conv.spatial.weight[:, 0] = 1.0  # spatial kernel == 1 on every (edge, orientation)
    v = torch.randn(1, O, C, dtype=dtype)
    f = v.expand(N, O, C)
    out = conv(f, EDGE_INDEX, basis, edge_weight=weight)
    receives = torch.zeros(N, dtype=torch.bool)
    receives[EDGE_INDEX[1]] = True
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(out[receives], f[receives], rtol=tol, atol=tol)
    assert torch.equal(out[~receives], torch.zeros_like(out[~receives]))


def test_edge_weight_of_one_changes_nothing():
    conv = _conv()
    f, basis, fibre_basis, _ = _inputs()
    ones = torch.ones(EDGE_INDEX.shape[1], dtype=torch.float64)
    assert torch.equal(
        conv(f, EDGE_INDEX, basis, fibre_basis, edge_weight=ones),
        conv(f, EDGE_INDEX, basis, fibre_basis),
    )


def test_edge_weight_of_zero_removes_the_edge(dtype):
    conv = _conv(dtype=dtype)
    f, basis, fibre_basis, weight = _inputs(dtype=dtype)
    drop = 2  # the edge 3 -> 0; node 0 has three other incoming edges
    weight = weight.clone()
    weight[drop] = 0.0
    out = conv(f, EDGE_INDEX, basis, fibre_basis, edge_weight=weight)
    keep = torch.arange(EDGE_INDEX.shape[1]) != drop
    without = conv(f, EDGE_INDEX[:, keep], basis[keep], fibre_basis, edge_weight=weight[keep])
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(out, without, rtol=tol, atol=tol)


def test_zero_weight_on_the_only_incoming_edge_is_renormalised_away():
    # The weight enters as log u in a softmax: only ratios matter, so a node whose every
    # incoming edge has the same weight (even 0) sees no change. (Models therefore multiply
    # the spatial basis by the envelope too: the value, not only the logit, goes to zero.)
    conv = _conv()
    f, basis, fibre_basis, weight = _inputs()
    only = int((EDGE_INDEX[1] == 2).nonzero())  # 4 -> 2 is node 2's only incoming edge
    zero = weight.clone()
    zero[only] = 0.0
    one = weight.clone()
    one[only] = 1.0
    a = conv(f, EDGE_INDEX, basis, fibre_basis, edge_weight=zero)
    b = conv(f, EDGE_INDEX, basis, fibre_basis, edge_weight=one)
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("heads", [3, 0, -1, True, 2.0])
def test_bad_heads_raise(heads):
    with pytest.raises(ValueError, match="heads"):
        AttentionGroupConv(C, K, heads=heads)


def test_heads_divide_channels():
    conv = AttentionGroupConv(6, K, heads=3)
    assert conv.head_dim == 2
    with pytest.raises(ValueError, match="divisible"):
        AttentionGroupConv(6, K, heads=4)


def test_relabelling_the_nodes_permutes_the_output():
    conv = _conv()
    f, basis, fibre_basis, weight = _inputs()
    out = conv(f, EDGE_INDEX, basis, fibre_basis, edge_weight=weight)
    perm = torch.tensor([4, 2, 0, 3, 1])  # new node k is old node perm[k]
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(N)
    order = torch.randperm(EDGE_INDEX.shape[1], generator=torch.Generator().manual_seed(3))
    moved = conv(
        f[perm], inv[EDGE_INDEX][:, order], basis[order], fibre_basis, edge_weight=weight[order]
    )
    torch.testing.assert_close(moved, out[perm], rtol=1e-12, atol=1e-12)
