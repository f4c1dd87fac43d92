"""Fused message sums (exact and tabulated kernels) against the plain reference computation."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from regconv.testing import random_molecules
from regconv import models
from regconv.graph import full_graph, spatial_order
from regconv.kernels import KernelBasis, tabulate
from regconv.ops import scatter_sum
from regconv.ops import TablePlan, gelu_mlp2, kernel_message_sum, table_message_sum
from regconv.ops import layer_norm_mlp
from regconv.ops.mlp import _LayerNormMLP  # the autograd function itself, for gradcheck
from regconv.testing import assert_equivariant


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


def test_table_message_sum_gradients():
    src, dst, gen = _graph(7)
    e, o, c, q, g_rows = src.numel(), 3, 4, 4, 11
    cells = torch.randint(0, g_rows, (e, o, q), generator=gen)
    plan = TablePlan.build(src, dst, cells, chunk_rows=8)
    f = torch.randn(7, o, c, generator=gen, dtype=torch.float64, requires_grad=True)
    table = torch.randn(g_rows, c, generator=gen, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(e, o, q, generator=gen, dtype=torch.float64, requires_grad=True)
    ref = scatter_sum(f[src] * (weights.unsqueeze(-1) * table[cells]).sum(2), dst, 7)
    assert torch.allclose(table_message_sum(f, table, weights, plan), ref, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda f, t, w: table_message_sum(f, t, w, plan), (f, table, weights)
    )


@pytest.mark.parametrize("dim", [1, 2])
def test_tabulated_basis_is_exact_for_a_multilinear_basis(dim):
    # A basis that is affine in each invariant is reproduced exactly by multilinear interpolation.
    gen = torch.Generator().manual_seed(3)
    src, dst, _ = _graph(8)
    inv = torch.rand(src.numel(), 5, dim, generator=gen, dtype=torch.float64) * 3 - 1
    coef = torch.randn(4, 8, generator=gen, dtype=torch.float64)

    def basis_fn(a):
        x = a[..., 0:1]
        y = a[..., 1:2] if dim == 2 else torch.ones_like(x)
        feats = torch.cat([torch.ones_like(x), x, y, x * y], dim=-1)
        return feats @ coef

    tab = tabulate(basis_fn, inv, 0.37, src, dst)
    assert tab.shape == (src.numel(), 5, 8)
    assert torch.allclose(tab.dense(), basis_fn(inv), rtol=1e-12, atol=1e-12)
    assert tab.values.shape[0] <= int(((3 / 0.37) + 2) ** dim)


def _set_fused(model, flag):
    for m in model.modules():
        if "fused" in vars(type(m)):
            m.fused = flag


def _ponita_like(dtype=torch.float64, **extra):
    torch.manual_seed(0)
    model = models.create(
        "r3s2",
        hidden=16,
        layers=2,
        basis_dim=16,
        num_orientations=8,
        cutoff=None,
        layer_scale=1.0,
        **extra,
    )
    return model.to(dtype).eval()


def test_fused_and_reference_r3s2_agree_in_values_and_gradients():
    batch = random_molecules(3, seed=20)
    model = _ponita_like()
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
    model = _ponita_like()
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


def test_table_model_shares_the_state_dict_and_converges_quadratically():
    batch = random_molecules(4, seed=22)
    exact = _ponita_like()
    ref = exact(batch)
    errs = {}
    for step in (0.2, 0.1):
        table = _ponita_like(table_step=step)
        assert table.state_dict().keys() == exact.state_dict().keys()
        table.load_state_dict(exact.state_dict())
        errs[step] = float((table(batch) - ref).abs().max().detach() / ref.abs().mean().detach())
    assert errs[0.1] < 1e-2
    assert 2.5 < errs[0.2] / errs[0.1] < 6.0  # O(h^2)


def test_table_model_symmetries_and_batch_independence():
    batch = random_molecules(3, seed=23)
    model = _ponita_like(table_step=0.1)
    assert_equivariant(model, batch, tol=1e-10, rotations=False, reflections=False)
    together = model(batch)
    graphs = batch.to_data_list()
    alone = torch.cat([model(Batch.from_data_list([g])) for g in graphs])
    assert torch.allclose(together, alone, rtol=1e-10, atol=1e-12)


def test_table_models_train_and_handle_edge_cases():
    # gradients reach every parameter; molecules without edges; radius graph with envelope;
    # R3 with node-vector output (its readout reads the dense interpolated basis).
    single = Batch.from_data_list(
        [Data(pos=torch.zeros(1, 3, dtype=torch.float64), z=torch.tensor([6]))]
    )
    model = _ponita_like(table_step=0.1)
    out = model(random_molecules(2, seed=24))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert torch.isfinite(model(single)).all()
    torch.manual_seed(0)
    r3s2 = models.create(
        "r3s2", hidden=8, layers=1, basis_dim=8, num_orientations=6, cutoff=2.0, table_step=0.05
    ).double()
    assert torch.isfinite(r3s2(random_molecules(2, seed=25))).all()
    r3 = models.create(
        "r3",
        hidden=8,
        layers=1,
        basis_dim=8,
        output="node_vector",
        num_outputs=2,
        in_features=2,
        vector_in=1,
        table_step=0.05,
    ).double()
    batch = random_molecules(2, seed=26, in_features=2, vector_in=1)
    assert r3(batch).shape == (batch.pos.shape[0], 2, 3)
    assert_equivariant(r3, batch, tol=1e-10)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), "0.1", True])
def test_table_step_validation(bad):
    with pytest.raises(ValueError, match="table_step"):
        models.create("r3s2", table_step=bad)


def test_table_step_needs_a_separable_kernel_of_at_most_two_invariants():
    with pytest.raises(ValueError, match="separable"):
        models.create("r3s2", kernel="full", table_step=0.1)
    with pytest.raises(ValueError, match="no option"):
        models.create("se3", table_step=0.1)


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


def test_spatial_order_is_a_batch_preserving_permutation():
    batch = random_molecules(4, atoms=(20, 40), seed=40)
    perm = spatial_order(batch.pos, batch.batch, 1.0)
    assert torch.equal(torch.sort(perm).values, torch.arange(batch.pos.shape[0]))
    assert bool((batch.batch[perm][1:] >= batch.batch[perm][:-1]).all())


@pytest.mark.parametrize("extra", [{}, {"table_step": 0.1}])
def test_z_order_processing_changes_nothing_but_round_off(monkeypatch, extra):
    from regconv.graph import NodeOrder

    batch = random_molecules(3, atoms=(15, 30), seed=41, in_features=2, vector_in=1)
    torch.manual_seed(0)
    kw = dict(
        hidden=8, layers=2, basis_dim=8, cutoff=2.5, layer_scale=1.0, in_features=2, vector_in=1
    )
    r3s2 = models.create("r3s2", num_orientations=6, **kw, **extra).double()
    r3 = models.create("r3", output="node_vector", num_outputs=2, **kw, **extra).double()
    ref = [r3s2(batch), r3(batch)]
    monkeypatch.setattr(NodeOrder, "MIN_NODES", 0)
    out = [r3s2(batch), r3(batch)]
    for a, b in zip(out, ref, strict=True):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
