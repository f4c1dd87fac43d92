"""Tabulated kernel bases: exact for multilinear bases, and models whose kernels are tabulated."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from regconv import models
from regconv.graph import full_graph
from regconv.kernels import tabulate
from regconv.testing import assert_equivariant, random_molecules
from tests.helpers import small_r3s2


def _graph(n=9, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.tensor([0] * 4 + [1] * (n - 4))
    src, dst = full_graph(batch)
    return src, dst, gen


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


def test_table_model_shares_the_state_dict_and_converges_quadratically():
    batch = random_molecules(4, seed=22)
    exact = small_r3s2()
    ref = exact(batch)
    errs = {}
    for step in (0.2, 0.1):
        table = small_r3s2(table={"step": step, "order": "linear"})
        assert table.state_dict().keys() == exact.state_dict().keys()
        table.load_state_dict(exact.state_dict())
        errs[step] = float((table(batch) - ref).abs().max().detach() / ref.abs().mean().detach())
    assert errs[0.1] < 1e-2
    assert 2.5 < errs[0.2] / errs[0.1] < 6.0  # O(h^2)


def test_table_model_symmetries_and_batch_independence():
    batch = random_molecules(3, seed=23)
    model = small_r3s2(table={"step": 0.1})
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
    model = small_r3s2(table={"step": 0.1})
    out = model(random_molecules(2, seed=24))
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert torch.isfinite(model(single)).all()
    torch.manual_seed(0)
    r3s2 = models.create(
        "r3s2", hidden=8, layers=1, basis={"dim": 8}, space={"num_orientations": 6}, cutoff=2.0,
        table={"step": 0.05},
    ).double()  # fmt: skip
    assert torch.isfinite(r3s2(random_molecules(2, seed=25))).all()
    r3 = models.create(
        "r3",
        hidden=8,
        layers=1,
        basis={"dim": 8},
        output="node_vector",
        num_outputs=2,
        in_features=2,
        vector_in=1,
        table={"step": 0.05},
    ).double()
    batch = random_molecules(2, seed=26, in_features=2, vector_in=1)
    assert r3(batch).shape == (batch.pos.shape[0], 2, 3)
    assert_equivariant(r3, batch, tol=1e-10)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), "0.1", True])
def test_table_step_validation(bad):
    with pytest.raises(ValueError, match="table.step"):
        models.create("r3s2", table={"step": bad})
    with pytest.raises(ValueError, match="table.*step"):
        models.create("r3", table={"order": "cubic"})  # no step: no table


def test_a_table_needs_a_separable_kernel_of_at_most_two_invariants():
    with pytest.raises(ValueError, match="separable"):
        models.create("r3s2", block={"kind": "full"}, table={"step": 0.1})
    with pytest.raises(ValueError, match="separable"):
        models.create("r3s2-attention", table={"step": 0.1})
    with pytest.raises(ValueError, match="at most 2 inputs; SE3 has 3"):
        models.create("se3", table={"step": 0.1})


@pytest.mark.parametrize("order", ["quadratic", "cubic", "cubic_bspline"])
@pytest.mark.parametrize("dim", [1, 2])
def test_smooth_tables_reproduce_quadratics_and_converge_as_h_cubed(dim, order):
    gen = torch.Generator().manual_seed(4)
    src, dst, _ = _graph(8)
    inv = torch.rand(src.numel(), 3, dim, generator=gen, dtype=torch.float64) * 3 - 1
    coef = torch.randn(6, 5, generator=gen, dtype=torch.float64)

    def quadratic(a):
        x = a[..., 0:1]
        y = a[..., 1:2] if dim == 2 else torch.ones_like(x)
        return torch.cat([torch.ones_like(x), x, y, x * x, x * y, y * y], dim=-1) @ coef

    tab = tabulate(quadratic, inv, 0.37, src, dst, order=order)
    assert tab.weights.shape[-1] == {"quadratic": 3, "cubic": 4, "cubic_bspline": 4}[order] ** dim
    torch.testing.assert_close(tab.dense(), quadratic(inv), rtol=1e-11, atol=1e-11)

    def smooth(a):
        return torch.sin(2 * a).sum(-1, keepdim=True) * torch.arange(1, 4, dtype=a.dtype)

    errs = {}
    for name in ("linear", order):
        errs[name] = [
            float((tabulate(smooth, inv, h, src, dst, order=name).dense() - smooth(inv)).abs().max())
            for h in (0.2, 0.1)
        ]
    assert errs["linear"][0] / errs["linear"][1] == pytest.approx(4.0, rel=0.35)  # O(h^2)
    assert errs[order][0] / errs[order][1] > 6.0  # O(h^3)
    assert errs[order][1] < errs["linear"][1] / 5


@pytest.mark.parametrize("order", ["quadratic", "cubic", "cubic_bspline"])
def test_smooth_tables_are_c1_so_their_gradient_is_continuous_across_cells(order):
    src, dst, _ = _graph(4)
    e = src.numel()

    def f(a):
        return torch.exp(-a).sum(-1, keepdim=True) * torch.ones(3, dtype=a.dtype)

    h, eps = 0.25, 1e-7
    grads = {}
    for name in ("linear", order):
        out = []
        # either side of a grid node (where the linear and cubic pieces meet) and of a cell's
        # midpoint (where the quadratic B-spline's pieces meet)
        for x in (2 * h - eps, 2 * h + eps, 2.5 * h - eps, 2.5 * h + eps):
            inv = torch.full((e, 1, 1), x, dtype=torch.float64, requires_grad=True)
            tab = tabulate(f, inv, h, src, dst, order=name)
            out.append(float(torch.autograd.grad(tab.dense().sum(), inv)[0][0, 0, 0]))
        grads[name] = out
    jump = lambda g: max(abs(g[0] - g[1]), abs(g[2] - g[3]))  # noqa: E731
    assert jump(grads[order]) < 1e-5 and abs(grads["linear"][0] - grads["linear"][1]) > 1e-2
    exact = -3 * torch.exp(torch.tensor(-2 * h, dtype=torch.float64))
    assert grads[order][0] == pytest.approx(float(exact), rel=2e-2)


def test_the_cubic_bspline_table_is_c2_exact_on_cubics_and_converges_as_h_to_the_4th():
    src, dst, _ = _graph(4)
    e = src.numel()
    gen = torch.Generator().manual_seed(2)
    inv = torch.rand(e, 3, 2, generator=gen, dtype=torch.float64) * 3 - 1

    def cubic(a):
        x, y = a[..., 0:1], a[..., 1:2]
        return torch.cat([x**3 - 2 * x * y * y + y, y**3 + x * x], dim=-1)

    tab = tabulate(cubic, inv, 0.3, src, dst, order="cubic_bspline")
    torch.testing.assert_close(tab.dense(), cubic(inv), rtol=1e-11, atol=1e-11)

    def f(a):
        return torch.exp(-a).sum(-1, keepdim=True) * torch.ones(3, dtype=a.dtype)

    pts = torch.rand(e, 3, 1, generator=gen, dtype=torch.float64) * 2
    errs = [float((tabulate(f, pts, h, src, dst, order="cubic_bspline").dense() - f(pts))
                  .abs().max()) for h in (0.2, 0.1)]  # fmt: skip
    assert errs[0] / errs[1] > 12  # O(h^4)
    # second derivative on either side of a grid node: continuous for the C² table only
    h, eps = 0.25, 1e-6
    jumps = {}
    for order in ("quadratic", "cubic", "cubic_bspline"):
        second = []
        for x in (2 * h - eps, 2 * h + eps, 2.5 * h - eps, 2.5 * h + eps):
            a = torch.full((e, 1, 1), x, dtype=torch.float64, requires_grad=True)
            (g,) = torch.autograd.grad(tabulate(f, a, h, src, dst, order=order).dense().sum(), a,
                                       create_graph=True)  # fmt: skip
            second.append(float(torch.autograd.grad(g.sum(), a)[0][0, 0, 0]))
        jumps[order] = max(abs(second[0] - second[1]), abs(second[2] - second[3]))
    assert jumps["cubic_bspline"] < 1e-3 < min(jumps["quadratic"], jumps["cubic"]), jumps


def test_unknown_table_order_is_refused():
    src, dst, _ = _graph(4)
    inv = torch.rand(src.numel(), 1, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="order"):
        tabulate(lambda a: a, inv, 0.1, src, dst, order="quintic")


@pytest.mark.parametrize("order", ["quadratic", "cubic", "cubic_bspline"])
@pytest.mark.parametrize("name", ["r3s2", "r3", "schnet"])
def test_smooth_table_models_have_forces_minus_the_gradient_and_close_to_the_exact_ones(
    name, order
):
    from regconv.testing.forces import finite_difference_forces, forces_of

    batch = random_molecules(2, atoms=(4, 5), seed=5)
    small = {"hidden": 16, "layers": 2}
    if name != "schnet":
        small.update(basis={"dim": 16}, block={"layer_scale": 1.0})
    if name == "r3s2":
        small["space"] = {"num_orientations": 8}
    step = 0.02 if name == "schnet" else 0.05  # SchNet's Gaussians are ~0.1 Å wide
    exact_kernel, tables = ({"table_step": None}, {"table_step": step, "table_order": order})
    if name != "schnet":
        exact_kernel, tables = ({"table": None}, {"table": {"step": step, "order": order}})
    torch.manual_seed(0)
    exact = models.create(name, **small, **exact_kernel).double()  # r3s2 tabulates by default
    table = models.create(name, **small, **tables).double()
    table.load_state_dict(exact.state_dict())
    f_table = forces_of(table)(batch)[:, 0]
    torch.testing.assert_close(f_table, finite_difference_forces(table, batch, 1e-5),
                               rtol=1e-5, atol=1e-7 * float(f_table.abs().max()))  # fmt: skip
    f_exact = forces_of(exact)(batch)[:, 0]
    rel = float((f_table - f_exact).abs().max() / f_exact.abs().max())
    assert rel < 1e-2


def test_energy_force_tasks_take_the_smooth_tables_and_refuse_the_linear_one():
    from regconv.training import RegressionTask, energy_forces_task

    options = {"hidden": 8, "layers": 1, "num_rbf": 8, "table_step": 0.05}
    for order in ("quadratic", "cubic"):
        RegressionTask("schnet", {**options, "table_order": order}, task=energy_forces_task())
    with pytest.raises(ValueError, match="table_order: cubic"):
        RegressionTask("schnet", options, task=energy_forces_task())
    # the model's own order decides, its default included: r3s2's is quadratic, r3's linear
    small = {"hidden": 8, "layers": 1, "basis": {"dim": 8}, "table": {"step": 0.05}}
    RegressionTask("r3s2", {**small, "space": {"num_orientations": 4}}, task=energy_forces_task())
    with pytest.raises(ValueError, match="table_order: cubic"):
        RegressionTask("r3", small, task=energy_forces_task())
    with pytest.raises(ValueError, match="table_order"):
        models.create("schnet", table_step=0.1, table_order="quintic")
    for name in ("r3", "r3s2"):
        with pytest.raises(ValueError, match="table.order"):
            models.create(name, table={"step": 0.1, "order": "quintic"})


@pytest.mark.parametrize("order", ["linear", "quadratic", "cubic", "cubic_bspline"])
@pytest.mark.parametrize("dim", [1, 2])
def test_grid_box_holds_every_row_when_float32_quotients_round_up(order, dim):
    # 0.7 / 0.1 is 6.99999988 in float64 but rounds to 7.0 in float32: the grid box and the
    # rows' nodes must come from the same arithmetic, or a row's top node falls off the grid.
    src, dst, _ = _graph(4)
    values = torch.tensor([0.7, 0.3, 2.3, 1.9, 0.1], dtype=torch.float32)
    inv = values[torch.arange(src.numel() * 3) % 5].view(src.numel(), 3, 1).repeat(1, 1, dim)
    tab = tabulate(lambda a: torch.cat([a, a * a], dim=-1), inv, 0.1, src, dst, order=order)
    exact = torch.cat([inv, inv * inv], dim=-1)
    assert 0 <= int(tab.plan.cells.min()) and int(tab.plan.cells.max()) < tab.values.shape[0]
    torch.testing.assert_close(tab.dense(), exact, rtol=0, atol=0.01)
