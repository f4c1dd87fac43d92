"""Fused message sums and MLPs of ``regconv.ops`` against the plain reference computation."""

import dataclasses

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import regconv.ops.table_message as message
from regconv.graph import full_graph
from regconv.ops import (
    TablePlan,
    fibre_mix,
    kernel_message_sum,
    layer_norm_mlp,
    scatter_sum,
    table_message_sum,
)
from regconv.ops.mlp import _LayerNormMLP  # the autograd function itself, for gradcheck


def _graph(n=9, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.tensor([0] * 4 + [1] * (n - 4))
    src, dst = full_graph(batch)
    return src, dst, gen


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 10_000])
def test_kernel_message_sum_matches_reference_values_and_gradients(chunk_rows):
    src, dst, gen = _graph()
    e, o, c, k = src.numel(), 3, 5, 4
    f = torch.randn(9, o, c, generator=gen, dtype=torch.float64, requires_grad=True)
    basis = torch.randn(e, o, k, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(c, k, generator=gen, dtype=torch.float64, requires_grad=True)
    g = torch.randn(9, o, c, generator=gen, dtype=torch.float64)
    ref = scatter_sum(f[src] * (basis @ weight.T), dst, 9)
    out = kernel_message_sum(f, src, dst, basis, weight, chunk_rows)
    assert torch.allclose(out, ref, rtol=1e-12, atol=1e-12)
    grads_ref = torch.autograd.grad(ref, (f, basis, weight), g)
    grads = torch.autograd.grad(out, (f, basis, weight), g)
    for a, b in zip(grads, grads_ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


def test_kernel_message_sum_is_twice_differentiable():
    src, dst, gen = _graph(6)
    e = src.numel()
    f = torch.randn(6, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    basis = torch.randn(e, 2, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    fn = lambda f, b, w: kernel_message_sum(f, src, dst, b, w, 5)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (f, basis, weight))
    assert torch.autograd.gradgradcheck(fn, (f, basis, weight))


def _table_problem(q):
    """A table message sum on 7 nodes (O = 3, C = 4, Q = q, 11 table rows) in float64: its plan,
    its inputs (which need gradients) and the graph."""
    src, dst, gen = _graph(7)
    e, o, c, g_rows = src.numel(), 3, 4, 11
    cells = torch.randint(0, g_rows, (e, o, q), generator=gen)
    plan = TablePlan.build(src, dst, cells, chunk_rows=8)
    f = torch.randn(7, o, c, generator=gen, dtype=torch.float64, requires_grad=True)
    table = torch.randn(g_rows, c, generator=gen, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(e, o, q, generator=gen, dtype=torch.float64, requires_grad=True)
    return plan, (f, table, weights), (src, dst, cells)


def test_table_message_sum_gradients():
    plan, (f, table, weights), (src, dst, cells) = _table_problem(q=4)
    ref = scatter_sum(f[src] * (weights.unsqueeze(-1) * table[cells]).sum(2), dst, 7)
    assert torch.allclose(table_message_sum(f, table, weights, plan), ref, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda f, t, w: table_message_sum(f, t, w, plan), (f, table, weights)
    )


def test_table_plan_sorted_weights_give_the_same_gradients_and_are_unused_for_weights_with_grad(
    monkeypatch,
):
    # the PyTorch backward's path (GPUs, autocast): the native kernels do not use the sorted copy
    monkeypatch.setattr(message, "_NATIVE", False)
    plan, (f, table, weights), _ = _table_problem(q=9)
    const = weights.detach()
    presorted = dataclasses.replace(plan, constant_weights=const)
    chunks = zip(plan.chunks, plan.order, presorted.sorted_weights, strict=True)
    for (a, b), order, ws in chunks:
        assert torch.equal(ws, const[a:b].reshape(-1)[order])
    assert plan.sorted_weights is None
    g = torch.randn_like(f)
    grads = torch.autograd.grad(table_message_sum(f, table, const, plan), (f, table), g)
    fast = torch.autograd.grad(table_message_sum(f, table, const, presorted), (f, table), g)
    for a, b in zip(fast, grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    # weights that need a gradient ignore the (detached) sorted copy: the gradient still flows
    assert torch.autograd.gradcheck(
        lambda f, t, w: table_message_sum(f, t, w, presorted), (f, table, weights)
    )


def test_table_message_sum_is_twice_differentiable():
    # Training on forces through the tabulated kernel: second derivatives of the message sum.
    plan, inputs, _ = _table_problem(q=16)
    fn = lambda f, t, w: table_message_sum(f, t, w, plan)  # noqa: E731
    assert torch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("gamma", [True, False])
def test_layer_norm_mlp_matches_the_layers_and_is_twice_differentiable(gamma):
    torch.manual_seed(0)
    norm, lin1, lin2 = torch.nn.LayerNorm(6), torch.nn.Linear(6, 12), torch.nn.Linear(12, 6)
    for m in (norm, lin1, lin2):
        m.double()
        for p in m.parameters():
            p.data.add_(0.1 * torch.randn_like(p))
    g = torch.randn(6, dtype=torch.float64, requires_grad=True) if gamma else None
    x = torch.randn(3, 5, 6, dtype=torch.float64, requires_grad=True)
    ref = lin2(torch.nn.functional.gelu(lin1(norm(x))))
    ref = ref * g if gamma else ref
    assert torch.allclose(
        layer_norm_mlp(x, norm, lin1, lin2, g, chunk_rows=4), ref, rtol=1e-12, atol=1e-12
    )
    params = [x, norm.weight, norm.bias, lin1.weight, lin1.bias, lin2.weight, lin2.bias] + (
        [g] if gamma else []
    )

    def fn(*args):
        xx, nw, nb, w1, b1, w2, b2 = args[:7]
        gg = args[7] if gamma else None
        return _LayerNormMLP.apply(xx, nw, nb, w1, b1, w2, b2, gg, 1e-5, 4)

    assert torch.autograd.gradcheck(fn, tuple(params))
    assert torch.autograd.gradgradcheck(fn, tuple(params))


def test_fused_message_sums_run_in_the_autocast_dtype():
    """Under ``torch.autocast`` (bfloat16 here, on the CPU) the exact kernel's message sum casts
    mixed float32 / bfloat16 inputs to bfloat16 and matches float32 to bfloat16's precision."""
    src, dst, gen = _graph()
    e, o, c, k = src.numel(), 3, 5, 4
    f = torch.randn(9, o, c, generator=gen, requires_grad=True)
    basis = torch.randn(e, o, k, generator=gen).to(torch.bfloat16)
    weight = torch.randn(c, k, generator=gen, requires_grad=True)
    ref = kernel_message_sum(f, src, dst, basis.float(), weight)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = kernel_message_sum(f, src, dst, basis, weight)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), ref, rtol=0.05, atol=0.05 * float(ref.abs().max()))
    out.float().sum().backward()
    assert f.grad.dtype == torch.float32 and torch.isfinite(f.grad).all()


def test_sums_run_in_float32_under_autocast():
    """The table's message sum and the fibre mix are sums: under ``torch.autocast`` they run in
    float32 on inputs cast to it (as autocast keeps its own sums), so on bfloat16-rounded inputs
    they give float32's result, and their gradients come back in the inputs' dtypes."""
    src, dst, gen = _graph()
    e, o, c = src.numel(), 3, 5
    f = torch.randn(9, o, c, generator=gen, requires_grad=True)
    cells = torch.randint(0, 11, (e, o, 4), generator=gen)
    plan = TablePlan.build(src, dst, cells, chunk_rows=8)
    table = torch.randn(11, c, generator=gen).to(torch.bfloat16).requires_grad_()
    weights = torch.rand(e, o, 4, generator=gen)
    ref = table_message_sum(f, table.detach().float(), weights, plan)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = table_message_sum(f, table, weights, plan)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    out.sum().backward()
    assert f.grad.dtype == torch.float32 and table.grad.dtype == torch.bfloat16

    kernel = torch.randn(o, o, c, generator=gen, requires_grad=True)
    bias = torch.randn(c, generator=gen)
    g = torch.randn(9, o, c, generator=gen).to(torch.bfloat16)
    ref = fibre_mix(g.float(), kernel.detach(), bias)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fibre_mix(g, kernel, bias)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)
    out.sum().backward()
    assert kernel.grad.dtype == torch.float32


class _MatmulDtypes(TorchDispatchMode):
    """Records the dtype of every matrix product dispatched inside it."""

    PRODUCTS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default}

    def __init__(self):
        super().__init__()
        self.dtypes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.PRODUCTS:
            self.dtypes.append(
                args[-1].dtype if func is torch.ops.aten.mm.default else args[1].dtype
            )
        return func(*args, **(kwargs or {}))


def test_layer_norm_mlp_under_autocast_runs_its_products_in_bfloat16_both_ways():
    """Forward and backward pass: every product in bfloat16 (the backward pass takes the forward
    pass's autocast state, though ``backward()`` is called outside it); output and gradients in
    float32, within bfloat16's precision of the float32 ones."""
    torch.manual_seed(0)
    norm, lin1, lin2 = torch.nn.LayerNorm(16), torch.nn.Linear(16, 64), torch.nn.Linear(64, 16)
    gamma = torch.full((16,), 0.5, requires_grad=True)
    x = torch.randn(40, 16, requires_grad=True)
    params = [x, gamma, *lin1.parameters(), *lin2.parameters(), *norm.parameters()]
    ref = layer_norm_mlp(x, norm, lin1, lin2, gamma, chunk_rows=16)
    grads_ref = torch.autograd.grad(ref.square().sum(), params)
    with _MatmulDtypes() as forward, torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer_norm_mlp(x, norm, lin1, lin2, gamma, chunk_rows=16)
    assert out.dtype == torch.float32
    with _MatmulDtypes() as backward:
        grads = torch.autograd.grad(out.square().sum(), params)
    assert forward.dtypes and set(forward.dtypes) == {torch.bfloat16}
    assert backward.dtypes and set(backward.dtypes) == {torch.bfloat16}
    torch.testing.assert_close(out, ref, rtol=0.02, atol=0.02 * float(ref.abs().max()))
    for a, b in zip(grads, grads_ref, strict=True):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a, b, rtol=0.05, atol=0.05 * float(b.abs().max()))
