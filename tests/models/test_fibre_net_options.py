"""FibreNet's components (instances or specs, merged into a variant's defaults), the readout and
basis options: symmetry, what each one does, and bad values."""

import inspect

import pytest
import torch

from regconv import models
from regconv.kernels import BasisSpec, KernelBasis, TableSpec
from regconv.models import FibreNet
from regconv.nn import AttentionBlock, FullBlock, GraphScalarReadout, ReadoutSpec, SeparableBlock
from regconv.spaces import R3S2
from regconv.testing import assert_equivariant, random_molecules
from tests.models.test_models import assert_invariant_when_the_grid_turns, make

OPTIONS = [
    dict(readout={"hidden": 24}),
    dict(basis={"dim": 16, "radial": 6}),
]


def test_fibre_net_takes_the_task_contract_sizes_the_graph_and_components_only():
    # the task contract (4), sizes (hidden, layers, max_z), the graph (cutoff, self_loops) and
    # seven components: a new behaviour is a new kind of a component, not a new parameter
    params = inspect.signature(FibreNet).parameters
    assert len(params) <= 16
    components = {"space", "basis", "block", "table", "readout", "envelope", "pair_features"}
    assert components <= set(params)
    flags = [n for n, p in params.items() if p.annotation in (bool, "bool")]
    assert flags == ["self_loops"]


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
    readout = {"pooling": "attention", **({"hidden": 6} if name == "r3s2" else {})}
    model = make(name, cutoff=4.0, readout=readout)
    with torch.no_grad():  # a gate that is not zero, so the weights differ between rows
        model.readout.gate.weight.normal_(generator=torch.Generator().manual_seed(36))
    if name == "r3":  # a trivial fibre: exact in every rotation and reflection
        assert_equivariant(model, batch, tol=1e-10)
        return
    assert_equivariant(model, batch, tol=1e-10, rotations=False, reflections=False)
    assert_invariant_when_the_grid_turns(model, batch, seed=37)


def test_components_as_instances_build_the_model_of_their_specs():
    batch = random_molecules(2, seed=34)
    specs = dict(
        space={"kind": "r3s2", "num_orientations": 8}, basis={"dim": 16, "radial": 4},
        block={"kind": "separable", "widening": 2}, table={"step": 0.1, "order": "cubic"},
        readout={"pooling": "mean", "hidden": 8},
    )  # fmt: skip
    instances = dict(
        space=R3S2(8), basis=BasisSpec(dim=16, radial=4), block=SeparableBlock(widening=2),
        table=TableSpec(0.1, "cubic"), readout=ReadoutSpec(pooling="mean", hidden=8),
    )  # fmt: skip
    torch.manual_seed(0)
    a = FibreNet(hidden=8, layers=2, **specs).double()
    torch.manual_seed(0)
    b = FibreNet(hidden=8, layers=2, **instances).double()
    assert a.state_dict().keys() == b.state_dict().keys()
    assert torch.equal(a(batch), b(batch))
    assert a.table == TableSpec(0.1, "cubic") and a.block == SeparableBlock(widening=2)


def test_create_merges_a_component_mapping_into_the_variants_default():
    assert models.create("r3s2", table={"order": "linear"}).table == TableSpec(0.1, "linear")
    assert models.create("r3s2", table=None).table is None
    assert models.create("r3s2", table=TableSpec(0.2)).table == TableSpec(0.2, "linear")
    net = models.create("r3s2", basis={"dim": 16})
    assert net.basis == BasisSpec(dim=16, radial=50)  # r3s2's distance Gaussians stay
    att = models.create("r3s2-attention", block={"heads": 2})
    assert att.block == AttentionBlock(heads=2)
    # another kind replaces the default (the attention block's heads do not carry over)
    full = models.create("r3s2-attention", block={"kind": "full"}, space={"num_orientations": 8})
    assert full.block == FullBlock() and full.space.num_fibre == 8
    # a default that names no kind (N-body: no layer scale) keeps its options under a new kind
    nbody = models.create("r3s2-nbody", block={"kind": "full"}, space={"num_orientations": 6})
    assert nbody.block == FullBlock(layer_scale=None)
    assert models.merge_option({"kind": "a", "x": 1}, {"y": 2}) == {"kind": "a", "x": 1, "y": 2}


def test_the_qm9_preset_is_r3s2_at_the_main_jobs_options():
    net = models.create("r3s2-qm9")
    assert net.space.num_fibre == 4 and len(net.blocks) == 3 and net.cutoff == 5.0
    assert net.basis == BasisSpec(dim=32, radial=50) and net.table == TableSpec(0.1, "linear")
    assert net.readout.pooling == "mean" and net.readout.mlp[0].out_features == 64


def test_kernel_basis_radial_gaussians_are_those_of_the_distance():
    torch.manual_seed(0)
    basis = KernelBasis(3, 8, degree=2, radial=5, radial_dims=2, radial_range=2.0).double()
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
    fused = KernelBasis(3, 8, degree=2, radial=5, radial_dims=2, radial_range=2.0).double()
    fused.load_state_dict(basis.state_dict())
    x = torch.randn(11, 4, 3, dtype=torch.float64)
    torch.testing.assert_close(fused(x), basis(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [dict(radial=-1), dict(radial=2.0), dict(radial=3, radial_dims=4),
                                 dict(radial=3, radial_dims=0)])  # fmt: skip
def test_kernel_basis_refuses_bad_radial_settings(bad):
    with pytest.raises(ValueError, match="radial"):
        KernelBasis(3, 8, **bad)


def test_r3s2_reads_the_distance_gaussians_only_when_asked():
    assert models.create("r3s2").spatial_basis.radial.out_dim == 50  # the default since 0.3
    assert models.create("r3s2", basis={"radial": 0}).spatial_basis.radial is None
    assert models.create("r3s2-nbody").spatial_basis.radial is None  # as measured in BENCHMARKS
    full = models.create("r3s2", block={"kind": "full"}, table=None, space={"num_orientations": 8})
    assert full.spatial_basis.radial.out_dim == 50 and full.spatial_basis.radial_dims == 2


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


BAD = [
    (dict(basis={"radial": -1}), "basis.radial"),
    (dict(basis={"dim": 0}), "basis.dim"),
    (dict(basis={"length_scale": 0.0}), "basis.length_scale"),
    (dict(basis={"rbf": 8}), r"basis \(polynomial\).*rbf"),
    (dict(block={"kind": "convolution"}), "block: unknown kind 'convolution'"),
    (dict(block={"widening": 0}), "block.widening"),
    (dict(block={"layer_scale": -1.0}), "block.layer_scale"),
    (dict(block={"kind": "separable", "heads": 2}), r"block \(separable\).*heads"),
    (dict(block={"kind": "attention", "heads": 0}), "block.heads"),
    (dict(space={"kind": "r3s2_edge"}), "space: unknown kind"),
    (dict(space="r3s2"), "space must be a FibreSpace or a mapping"),
    (dict(table={"step": -0.1}), "table.step"),
    (dict(table={"step": 0.1, "order": "quintic"}), "table.order"),
    (dict(readout={"pooling": "max"}), "readout.pooling"),
    (dict(readout=[1]), "readout must be a ReadoutSpec"),
    (dict(block={"kind": "full"}), "table needs the separable block"),
]


@pytest.mark.parametrize(("bad", "match"), BAD)
def test_bad_component_values_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        models.create("r3s2", hidden=8, layers=1, **bad)


def test_a_space_kind_must_be_named_and_the_full_kernel_needs_a_space_that_has_one():
    with pytest.raises(ValueError, match="space must name its 'kind'"):
        FibreNet(space={"num_orientations": 8})
    with pytest.raises(ValueError, match="R3 has no full kernel"):
        models.create("r3", block={"kind": "full"})
