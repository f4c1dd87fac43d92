"""The native (C++/OpenMP) kernels against the PyTorch code they replace on CPUs."""

import subprocess
import sys

import pytest
import torch

import regconv.ops.fibre as fibre_module
import regconv.ops.table_message as message
from regconv.graph import full_graph
from regconv.ops import TablePlan, fibre_mix, native, scatter_sum, table_message_sum


def test_the_native_library_builds_here():
    # CI and the machines of this project have a C++ compiler: the fast path must not silently
    # fall back to PyTorch there.
    assert native.load() is not None


def _problem(q, dtype, itype, n=23, o=3, c=37, rows=50, seed=0):
    """A table message sum over two molecules (full graphs) plus one isolated atom (no edges)."""
    gen = torch.Generator().manual_seed(seed)
    batch = torch.tensor([0] * 9 + [1] * (n - 10) + [2])
    src, dst = full_graph(batch)
    e = src.numel()
    cells = torch.randint(0, rows, (e, o, q), generator=gen).to(itype)
    plan = TablePlan(src, dst, cells, ((0, e // 3), (e // 3, e)))
    f = torch.randn(n, o, c, generator=gen, dtype=dtype, requires_grad=True)
    table = torch.randn(rows, c, generator=gen, dtype=dtype, requires_grad=True)
    weights = torch.rand(e, o, q, generator=gen, dtype=dtype, requires_grad=True)
    dout = torch.randn(n, o, c, generator=gen, dtype=dtype)
    return plan, (f, table, weights), dout


def _value_and_grads(plan, inputs, dout, use_native, monkeypatch):
    monkeypatch.setattr(message, "_NATIVE", use_native)
    out = table_message_sum(*inputs[:2], inputs[2], plan)
    return (out, *torch.autograd.grad(out, inputs, dout))


@pytest.mark.parametrize("q", [1, 2, 3, 4, 9, 16])
@pytest.mark.parametrize(
    "dtype,itype,tol",
    [(torch.float64, torch.int32, 1e-12), (torch.float64, torch.int64, 1e-12),
     (torch.float32, torch.int32, 2e-5), (torch.float32, torch.int64, 2e-5)],
)  # fmt: skip
def test_native_matches_pytorch_values_and_all_gradients(q, dtype, itype, tol, monkeypatch):
    plan, inputs, dout = _problem(q, dtype, itype)
    assert native.usable(*inputs, plan.cells)
    fast = _value_and_grads(plan, inputs, dout, True, monkeypatch)
    ref = _value_and_grads(plan, inputs, dout, False, monkeypatch)
    for a, b in zip(fast, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * float(b.detach().abs().max()))
    assert torch.count_nonzero(fast[0][-1]) == 0  # the isolated atom receives nothing


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_native_result_is_the_same_for_any_thread_count_and_only_needed_grads(threads):
    plan, (f, table, weights), dout = _problem(9, torch.float64, torch.int32)
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        out = table_message_sum(f, table, weights.detach(), plan)
        df, dtable = torch.autograd.grad(out, (f, table), dout)
        f_only = torch.autograd.grad(table_message_sum(f, table.detach(), weights, plan), f, dout)
    finally:
        torch.set_num_threads(previous)
    ref = scatter_sum(
        f[plan.src] * (weights.unsqueeze(-1) * table[plan.cells]).sum(2), plan.dst, 23
    )
    ref_df, ref_dtable = torch.autograd.grad(ref, (f, table), dout)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(df, ref_df, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(dtable, ref_dtable, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(f_only[0], ref_df, rtol=1e-12, atol=1e-12)


def test_native_path_is_gradchecked_and_twice_differentiable():
    plan, inputs, _ = _problem(4, torch.float64, torch.int32, n=12, o=2, c=5, rows=9)
    fn = lambda f, t, w: table_message_sum(f, t, w, plan)  # noqa: E731
    assert torch.autograd.gradcheck(fn, inputs)
    assert torch.autograd.gradgradcheck(fn, inputs)  # second order: the PyTorch backward


def test_native_falls_back_where_it_does_not_apply(monkeypatch):
    plan, (f, table, weights), _ = _problem(4, torch.float32, torch.int32)
    assert not native.usable(f.to(torch.bfloat16), table, weights, plan.cells)
    assert not native.usable(f, table.double(), weights, plan.cells)
    assert native.usable(f, table, weights, plan.cells)


_PROBE = """
import warnings
from regconv.ops import native
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    assert native.load() is None
print("|".join(str(w.message) for w in caught))
"""


@pytest.mark.parametrize(
    "env,message",
    [({"REGCONV_NATIVE": "0"}, ""), ({"CXX": "", "PATH": "{tmp}"}, "no C++ compiler found")],
)
def test_off_switch_and_missing_compiler_fall_back(env, message, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)} | {
        k: v.format(tmp=tmp_path) for k, v in env.items()
    }
    run = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert (message in run.stdout) if message else run.stdout.strip() == ""


def test_library_is_cached_per_source_and_cpu_and_written_atomically(tmp_path, monkeypatch):
    monkeypatch.setenv("REGCONV_CACHE_DIR", str(tmp_path))
    from regconv.ops.native import _build

    compiler = _build._compiler()
    target = _build.library_path(compiler)
    assert target.parent == tmp_path / "native" and not target.exists()
    _build._build(compiler, target)
    assert target.exists() and [p.name for p in target.parent.iterdir()] == [target.name]
    assert _build.library_path(compiler) == target  # the same key for the same inputs


def _fibre_problem(dtype, n=13, o=5, c=19, seed=1):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(n, o, c, generator=gen, dtype=dtype, requires_grad=True)
    kernel = torch.randn(o, o, c, generator=gen, dtype=dtype, requires_grad=True)
    bias = torch.randn(c, generator=gen, dtype=dtype, requires_grad=True)
    dout = torch.randn(n, o, c, generator=gen, dtype=dtype)
    return (g, kernel, bias), dout


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("with_bias", [True, False])
def test_native_fibre_mix_matches_the_einsum_and_the_bmm_path(
    dtype, tol, threads, with_bias, monkeypatch
):
    (g, kernel, bias), dout = _fibre_problem(dtype)
    bias = bias if with_bias else None
    inputs = (g, kernel) + ((bias,) if with_bias else ())
    ref = torch.einsum("opc,npc->noc", kernel, g) + (bias if with_bias else 0)
    ref_grads = torch.autograd.grad(ref, inputs, dout)
    previous = torch.get_num_threads()
    results = {}
    try:
        torch.set_num_threads(threads)
        for use in (True, False):
            monkeypatch.setattr(fibre_module, "_NATIVE", use)
            out = fibre_mix(g, kernel, bias)
            results[use] = (out, *torch.autograd.grad(out, inputs, dout))
    finally:
        torch.set_num_threads(previous)
    assert native.fibre_usable(g, kernel, bias)
    for got in results.values():
        for a, b in zip(got, (ref, *ref_grads), strict=True):
            torch.testing.assert_close(a, b, rtol=tol, atol=tol * float(b.detach().abs().max()))


def test_native_fibre_mix_is_gradchecked_twice():
    (g, kernel, bias), _ = _fibre_problem(torch.float64, n=4, o=3, c=2)
    assert torch.autograd.gradcheck(fibre_mix, (g, kernel, bias))
    assert torch.autograd.gradgradcheck(fibre_mix, (g, kernel, bias))


def test_fibre_mix_rejects_mismatched_shapes():
    (g, kernel, bias), _ = _fibre_problem(torch.float64)
    with pytest.raises(ValueError, match="kernel"):
        fibre_mix(g, kernel[:, :3], bias)
    with pytest.raises(ValueError, match="bias"):
        fibre_mix(g, kernel, bias[:3])


@pytest.mark.parametrize("use_native", [True, False])
def test_out_of_range_edges_or_table_rows_are_refused_before_any_kernel_runs(
    use_native, monkeypatch
):
    monkeypatch.setattr(message, "_NATIVE", use_native)
    plan, (f, table, weights), _ = _problem(4, torch.float64, torch.int32)
    with pytest.raises(ValueError, match="nodes"):
        table_message_sum(f[:-3], table, weights, plan)  # the graph names the last nodes
    with pytest.raises(ValueError, match="table rows"):
        table_message_sum(f, table[:-5], weights, plan)
    bad = TablePlan(plan.src, plan.dst, plan.cells - 1, plan.chunks)  # row -1 somewhere
    with pytest.raises(ValueError, match="table rows"):
        table_message_sum(f, table, weights, bad)


def test_backward_takes_fewer_threads_when_the_private_tables_would_not_fit(monkeypatch):
    from regconv.ops.native import _table

    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert _table.backward_threads(1024) == 3
        monkeypatch.setattr(_table, "PRIVATE_BYTES", 2048)
        assert _table.backward_threads(1024) == 2
        assert _table.backward_threads(10**9) == 1  # never zero
        plan, (f, table, weights), dout = _problem(9, torch.float64, torch.int32)
        out = table_message_sum(f, table, weights, plan)
        got = torch.autograd.grad(out, (f, table, weights), dout)
    finally:
        torch.set_num_threads(previous)
    monkeypatch.setattr(message, "_NATIVE", False)
    ref = torch.autograd.grad(table_message_sum(f, table, weights, plan), (f, table, weights), dout)
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("needs", ["weights only", "f only", "table only"])
def test_native_partial_backward_and_an_expanded_upstream_gradient(needs, monkeypatch):
    plan, (f, table, weights), _ = _problem(4, torch.float64, torch.int64)
    leaf = {"weights only": weights, "f only": f, "table only": table}[needs]
    args = [t if t is leaf else t.detach() for t in (f, table, weights)]
    results = []
    for use in (True, False):
        monkeypatch.setattr(message, "_NATIVE", use)
        (grad,) = torch.autograd.grad(table_message_sum(*args, plan).sum(), leaf)  # dout expanded
        results.append(grad)
    torch.testing.assert_close(results[0], results[1], rtol=1e-12, atol=1e-12)


def test_native_fibre_mix_with_fewer_outputs_than_inputs(monkeypatch):
    gen = torch.Generator().manual_seed(5)
    g = torch.randn(7, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    kernel = torch.randn(3, 5, 6, generator=gen, dtype=torch.float64, requires_grad=True)
    out = fibre_mix(g, kernel)
    assert out.shape == (7, 3, 6)
    ref = torch.einsum("opc,npc->noc", kernel, g)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    dout = torch.randn_like(ref)
    got = torch.autograd.grad(out, (g, kernel), dout)
    for a, b in zip(got, torch.autograd.grad(ref, (g, kernel), dout), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("q", [2, 3, 4, 9, 16])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("threads", [1, 3])
def test_table_gradient_in_cell_order_with_long_runs(q, dtype, tol, threads, monkeypatch):
    # As in a tabulation, a pair's first row fixes all its rows, and few cells are hit: runs of
    # many pairs (longer than the kernel's sub-runs of 64) with the same rows, plus lanes past
    # the last full register block (C = 37).
    gen = torch.Generator().manual_seed(q)
    n, o, c = 30, 5, 37
    src, dst = full_graph(torch.tensor([0] * 16 + [1] * 14))
    e = src.numel()
    # four stencils of Q rows from disjoint ranges of 20 (distinct first rows), shuffled
    stencils = torch.stack([20 * k + torch.randperm(20, generator=gen)[:q] for k in range(4)])
    base = torch.randint(0, 4, (e, o), generator=gen)
    cells = stencils[base].to(torch.int32)  # [E, O, Q]
    plan = TablePlan(src, dst, cells, ((0, e),))
    f = torch.randn(n, o, c, generator=gen, dtype=dtype, requires_grad=True)
    table = torch.randn(80, c, generator=gen, dtype=dtype, requires_grad=True)
    weights = torch.rand(e, o, q, generator=gen, dtype=dtype)
    dout = torch.randn(n, o, c, generator=gen, dtype=dtype)
    pairs, same = native.cell_order(cells, 80)
    assert torch.equal(pairs, torch.argsort(cells[..., 0].reshape(-1), stable=True))
    assert int((~same).sum()) == torch.unique(base).numel()  # one run per stencil used
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(threads)
        got = torch.autograd.grad(table_message_sum(f, table, weights, plan), (f, table), dout)
    finally:
        torch.set_num_threads(previous)
    monkeypatch.setattr(message, "_NATIVE", False)
    ref = torch.autograd.grad(table_message_sum(f, table, weights, plan), (f, table), dout)
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol * float(b.abs().max()))
