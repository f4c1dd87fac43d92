"""Second derivatives of the fused message sum and fibre mix (training on forces): the native
kernels against finite differences (``gradcheck``/``gradgradcheck``, float64) and against the
PyTorch reference, with 1-3 threads; gradients a force pass does not need are not computed."""

import pytest
import torch

import regconv.ops.table_message as table_message
from regconv.graph import full_graph
from regconv.ops import TablePlan, fibre_mix, native, table_message_sum


def _problem(q, n=6, o=2, c=3, rows=7, seed=0):
    """A table message sum on two molecules and an isolated atom, float64, with a plan that
    carries the cell structure of a real tabulation (chunks of several sizes)."""
    gen = torch.Generator().manual_seed(seed)
    batch = torch.tensor([0] * 3 + [1] * (n - 4) + [2])
    src, dst = full_graph(batch)
    e = src.numel()
    cells = torch.randint(0, rows, (e, o, q), generator=gen)
    plan = TablePlan.build(src, dst, cells, chunk_rows=5)
    f = torch.randn(n, o, c, generator=gen, dtype=torch.float64, requires_grad=True)
    table = torch.randn(rows, c, generator=gen, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(e, o, q, generator=gen, dtype=torch.float64, requires_grad=True)
    return plan, (f, table, weights)


@pytest.mark.parametrize("use_native", [True, False])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("q", [4, 9])
def test_table_message_sum_first_and_second_derivatives(use_native, threads, q, monkeypatch):
    monkeypatch.setattr(table_message, "_NATIVE", use_native)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        plan, inputs = _problem(q)
        if use_native:
            assert native.usable(*inputs, plan.cells, plan.src, plan.dst)
        fn = lambda f, t, w: table_message_sum(f, t, w, plan)  # noqa: E731
        assert torch.autograd.gradcheck(fn, inputs)
        assert torch.autograd.gradgradcheck(fn, inputs)
    finally:
        torch.set_num_threads(before)


def _force_like_step(plan, inputs, use_native, monkeypatch):
    """A force step in miniature: ``u = sum(out * r)``, ``F = -du/dw`` with create_graph, a loss
    on ``u`` and ``F``, and the gradients of that loss in f and the table (the parameters)."""
    monkeypatch.setattr(table_message, "_NATIVE", use_native)
    f, table, weights = inputs
    gen = torch.Generator().manual_seed(1)
    r = torch.randn(f.shape, generator=gen, dtype=f.dtype)
    u = (table_message_sum(f, table, weights, plan) * r).sum()
    (force,) = torch.autograd.grad(u, weights, create_graph=True)
    loss = u.square() + force.square().sum()
    return (u, force, *torch.autograd.grad(loss, (f, table, weights)))


@pytest.mark.parametrize("threads", [1, 3])
def test_native_force_step_matches_the_pytorch_reference(threads, monkeypatch):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        plan, inputs = _problem(9)
        fast = _force_like_step(plan, inputs, True, monkeypatch)
        ref = _force_like_step(plan, inputs, False, monkeypatch)
    finally:
        torch.set_num_threads(before)
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11 * float(b.detach().abs().max()))


def test_a_force_pass_skips_the_table_gradient(monkeypatch):
    # dE/dpos reaches the positions through the weights; the table depends on parameters only,
    # so the force pass must not compute its gradient (it would be thrown away).
    calls = []
    partials = table_message.table_partials

    def spy(need, operands, plan, num_rows):
        calls.append(tuple(bool(x) for x in need))
        return partials(need, operands, plan, num_rows)

    monkeypatch.setattr(table_message, "table_partials", spy)
    plan, (f, table, weights) = _problem(4)
    table_in = table * 2.0  # like a layer's table: computed from parameters
    out = table_message_sum(f.detach(), table_in, weights, plan)
    calls.clear()
    torch.autograd.grad(out.square().sum(), weights, create_graph=True)
    assert calls and all(not need[2] for need in calls), calls  # no table gradient
    assert any(need[3] for need in calls)  # the weights' gradient was computed
    calls.clear()
    torch.autograd.grad(out.square().sum(), table)  # asked for: computed
    assert any(need[2] for need in calls)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_native_fibre_mix_first_and_second_derivatives(threads):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        g = torch.randn(5, 4, 6, generator=gen, dtype=torch.float64, requires_grad=True)
        kernel = torch.randn(3, 4, 6, generator=gen, dtype=torch.float64, requires_grad=True)
        bias = torch.randn(6, generator=gen, dtype=torch.float64, requires_grad=True)
        assert native.fibre_usable(g, kernel, bias)
        ref = torch.einsum("opc,npc->noc", kernel, g) + bias
        torch.testing.assert_close(fibre_mix(g, kernel, bias), ref, rtol=1e-12, atol=1e-12)
        assert torch.autograd.gradcheck(fibre_mix, (g, kernel, bias))
        assert torch.autograd.gradgradcheck(fibre_mix, (g, kernel, bias))
    finally:
        torch.set_num_threads(before)
