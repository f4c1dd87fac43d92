"""The initialisation and readout options of the fibre models: symmetry, what each one does, and
bad values."""

import pytest
import torch

from regconv import models
from regconv.kernels import KernelBasis
from regconv.nn import AtomEmbedding, GraphScalarReadout, SeparableGroupConv
from regconv.testing import assert_equivariant, random_molecules
from tests.models.test_models import assert_invariant_when_the_grid_turns, make

OPTIONS = [
    dict(basis_rbf=8),
    dict(conv_gain=30.0),
    dict(embedding_std=0.25),
    dict(final_norm=False),
    dict(readout_hidden=24),
    dict(basis_radial=6),
]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: next(iter(o)))
def test_options_keep_the_exact_symmetries_of_r3s2(opts):
    # Translations and permutations exactly; rotations exactly when the grid turns with them.
    batch = random_molecules(3, seed=31)
    model = make("r3s2", cutoff=4.0, **opts)
    assert_equivariant(model, batch, tol=1e-10, rotations=False, reflections=False)
    assert_invariant_when_the_grid_turns(model, batch, seed=32)


@pytest.mark.parametrize("name", ["r3s2", "r3", "se3"])
def test_attention_pooling_keeps_the_exact_symmetries(name):
    batch = random_molecules(3, seed=35)
    extra = dict(readout_hidden=6) if name == "r3s2" else {}
    model = make(name, cutoff=4.0, pooling="attention", **extra)
    with torch.no_grad():  # a gate that is not zero, so the weights differ between rows
        model.readout.gate.weight.normal_(generator=torch.Generator().manual_seed(36))
    if name == "r3":  # a trivial fibre: exact in every rotation and reflection
        assert_equivariant(model, batch, tol=1e-10)
        return
    assert_equivariant(model, batch, tol=1e-10, rotations=False, reflections=False)
    assert_invariant_when_the_grid_turns(model, batch, seed=37)


def test_defaults_leave_the_model_unchanged():
    batch = random_molecules(2, seed=34)
    plain = make("r3s2")
    same = make(
        "r3s2", basis_rbf=0, conv_gain=1.0, embedding_std=1.0, final_norm=True, readout_hidden=0,
        basis_radial=50,
    )  # fmt: skip
    assert plain.state_dict().keys() == same.state_dict().keys()
    assert torch.equal(plain(batch), same(batch))


def test_kernel_basis_gaussians_sit_on_an_even_grid_over_the_range():
    torch.manual_seed(0)
    basis = KernelBasis(2, 8, degree=2, rbf=5, rbf_range=2.0).double()
    a = torch.tensor([[-2.0, 0.5]], dtype=torch.float64)
    gauss = basis.rbf(a + basis.rbf_shift).flatten(-2)  # [1, 2 * 5]
    # Centres -2, -1, 0, 1, 2, width = spacing = 1: -2 is the first; 0.5 is halfway from 0 to 1.
    assert gauss[0, 0] == 1.0 and torch.isclose(gauss[0, 1], torch.exp(torch.tensor(-0.5)).double())
    assert torch.allclose(gauss[0, 5 + 2], gauss[0, 5 + 3])
    assert basis.mlp[0].in_features == basis.poly.out_dim + 10
    assert basis(torch.randn(7, 3, 2, dtype=torch.float64)).shape == (7, 3, 8)


def test_kernel_basis_radial_gaussians_are_those_of_the_distance():
    torch.manual_seed(0)
    basis = KernelBasis(3, 8, degree=2, radial=5, radial_dims=2, rbf_range=2.0).double()
    assert basis.mlp[0].in_features == basis.poly.out_dim + 5
    a = torch.tensor([[0.6, 0.8, 7.0], [0.0, 0.0, -1.0]], dtype=torch.float64)  # d = 1, 0
    seen = []
    basis.mlp[0].register_forward_hook(lambda m, inp, out: seen.append(inp[0]))
    basis.fused = False
    basis(a)
    radial = seen[0][:, -5:]  # centres 0, 0.5, .., 2 (width 0.5); the third input is not in d
    centres = torch.linspace(0, 2, 5, dtype=torch.float64)
    expected = torch.exp(-0.5 * ((torch.tensor([[1.0], [0.0]]).double() - centres) / 0.5) ** 2)
    torch.testing.assert_close(radial, expected, rtol=1e-12, atol=1e-12)
    # the fused (chunked) evaluation gives the same basis
    fused = KernelBasis(3, 8, degree=2, radial=5, radial_dims=2, rbf_range=2.0).double()
    fused.load_state_dict(basis.state_dict())
    x = torch.randn(11, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(fused(x), basis(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [dict(radial=-1), dict(radial=2.0), dict(radial=3, radial_dims=4),
                                 dict(radial=3, radial_dims=0)])  # fmt: skip
def test_kernel_basis_refuses_bad_radial_settings(bad):
    with pytest.raises(ValueError, match="radial"):
        KernelBasis(3, 8, **bad)


def test_basis_radial_is_refused_when_negative():
    with pytest.raises(ValueError, match="basis_radial"):
        models.create("r3s2", hidden=8, layers=1, num_orientations=8, basis_radial=-1)


def test_r3s2_reads_the_distance_gaussians_only_when_asked():
    assert models.create("r3s2").spatial_basis.radial.out_dim == 50  # the default since 0.3
    assert models.create("r3s2", basis_radial=0).spatial_basis.radial is None
    assert models.create("r3s2-nbody").spatial_basis.radial is None  # as measured in BENCHMARKS
    full = models.create("r3s2", kernel="full", table_step=None, num_orientations=8)
    assert full.spatial_basis.radial.out_dim == 50 and full.spatial_basis.radial_dims == 2


def test_conv_gain_scales_the_message_sum_before_the_bias():
    torch.manual_seed(0)
    f = torch.randn(5, 4, 6, dtype=torch.float64)
    edges = torch.tensor([[0, 1, 2, 3, 4, 0], [1, 2, 3, 4, 0, 2]])
    basis = torch.randn(6, 4, 3, dtype=torch.float64)
    fibre = torch.randn(4, 4, 2, dtype=torch.float64)
    one = SeparableGroupConv(6, 3, 2).double()
    gained = SeparableGroupConv(6, 3, 2, gain=7.0).double()
    gained.load_state_dict(one.state_dict())
    with torch.no_grad():
        one.bias.normal_()
        gained.bias.copy_(one.bias)
    expected = 7.0 * (one(f, edges, basis, fibre) - one.bias) + one.bias
    assert torch.allclose(gained(f, edges, basis, fibre), expected, atol=1e-12)


def test_readout_mlp_adds_up_per_atom():
    torch.manual_seed(0)
    readout = GraphScalarReadout(6, 2, hidden=5).double()
    f = torch.randn(4, 3, 6, dtype=torch.float64)
    batch = torch.tensor([0, 0, 1, 1])
    per_atom = readout.node_values(f)
    assert torch.allclose(readout(f, batch, 2), per_atom.view(2, 2, 2).sum(1), atol=1e-12)
    w1, w2 = readout.mlp[0], readout.linear
    by_hand = w2(torch.nn.functional.silu(w1(f))).mean(1)
    assert torch.allclose(per_atom, by_hand, atol=1e-12)


def test_embedding_starts_at_the_given_spread_and_final_norm_can_go():
    torch.manual_seed(0)
    table = AtomEmbedding(256, 9, init_std=0.25).table.weight.detach()
    assert abs(float(table.std()) - 0.25) < 0.02
    assert isinstance(
        models.create("r3s2", hidden=8, layers=1, final_norm=False).norm, torch.nn.Identity
    )


BAD = [
    (dict(basis_rbf=-1), "basis_rbf"),
    (dict(basis_rbf=True), "basis_rbf"),
    (dict(readout_hidden=1.5), "readout_hidden"),
    (dict(readout_hidden=8, output="node_vector"), "readout_hidden"),
    (dict(conv_gain=0.0), "gain"),
    (dict(conv_gain=float("nan")), "gain"),
    (dict(embedding_std=-1.0), "init_std"),
    (dict(final_norm="no"), "final_norm"),
]


@pytest.mark.parametrize(("bad", "match"), BAD)
def test_bad_option_values_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        models.create("r3s2", hidden=8, layers=1, **bad)


def test_conv_gain_needs_the_separable_kernel():
    with pytest.raises(ValueError, match="conv_gain"):
        models.create("r3s2", hidden=8, layers=1, kernel="full", table_step=None, conv_gain=2.0)
