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
        table = small_r3s2(table_step=step)
        assert table.state_dict().keys() == exact.state_dict().keys()
        table.load_state_dict(exact.state_dict())
        errs[step] = float((table(batch) - ref).abs().max().detach() / ref.abs().mean().detach())
    assert errs[0.1] < 1e-2
    assert 2.5 < errs[0.2] / errs[0.1] < 6.0  # O(h^2)


def test_table_model_symmetries_and_batch_independence():
    batch = random_molecules(3, seed=23)
    model = small_r3s2(table_step=0.1)
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
    model = small_r3s2(table_step=0.1)
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
