"""The literature models (schnet, egnn, dimenet, spherenet, r3s2-attention): shapes, symmetry,
chirality, purity, bad input and checkpoints."""

import math
import subprocess
import sys
import textwrap

import pytest
import torch
from torch_geometric.data import Batch, Data

from regconv import models
from regconv.geometry import random_reflection, random_rotation
from regconv.models.spherenet import reference_edges
from regconv.testing import assert_equivariant, equivariance_errors, random_molecules
from tests.helpers import assert_rejects_bad_atoms

SMALL = {"hidden": 16, "layers": 2}
SMALL_BY_NAME = {
    "schnet": {**SMALL, "num_rbf": 12},
    "egnn": SMALL,
    "dimenet": {**SMALL, "num_radial": 4, "num_spherical": 3},
    "spherenet": {**SMALL, "num_radial": 4, "num_spherical": 3, "num_torsion": 2},
    "r3s2-attention": {
        **SMALL, "basis": {"dim": 16}, "space": {"num_orientations": 8}, "block": {"heads": 2}
    },
}
NAMES = sorted(SMALL_BY_NAME)
EXACT = ["dimenet", "egnn", "schnet", "spherenet"]  # complete invariants, no grid
GRID = ["r3s2-attention"]  # fibre integral replaced by a grid sum


def make(name, dtype=torch.float64, **extra):
    torch.manual_seed(0)
    model = models.create(name, **{**SMALL_BY_NAME[name], **extra}).to(dtype)
    with torch.no_grad():  # make the ConvNeXt residual branches count (layer scale starts ~0)
        for p_name, p in model.named_parameters():
            if p_name.endswith("gamma"):
                p.fill_(1.0)
    return model.eval()


def vector_batch(seed, dtype=torch.float64):
    return random_molecules(2, seed=seed, dtype=dtype, in_features=2, vector_in=1)


def test_registry_lists_the_literature_models():
    assert set(NAMES) <= set(models.available())
    for name in NAMES:
        assert models.options(name)["num_outputs"] == 1


@pytest.mark.parametrize("name", NAMES)
def test_output_shapes(name, dtype):
    batch = random_molecules(3, dtype=dtype)
    out = make(name, dtype, num_outputs=2)(batch)
    assert out.shape == (3, 2) and out.dtype == dtype and torch.isfinite(out).all()
    vb = vector_batch(1, dtype)
    out = make(name, dtype, output="node_vector", num_outputs=3, in_features=2, vector_in=1)(vb)
    assert out.shape == (vb.pos.shape[0], 3, 3) and out.dtype == dtype and torch.isfinite(out).all()


@pytest.mark.parametrize("name", EXACT)
def test_exact_models_are_e3_invariant_and_equivariant(name, dtype):
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert_equivariant(make(name, dtype), random_molecules(3, dtype=dtype, seed=2), tol=tol)
    model = make(name, dtype, output="node_vector", num_outputs=2, in_features=2, vector_in=1)
    assert_equivariant(model, vector_batch(3, dtype), tol=tol)


@pytest.mark.parametrize("name", ["egnn", "r3s2-attention"])
def test_radius_graph_variants(name):
    # the envelope path (egnn: weighted coordinate means; attention: log-envelope in the logits)
    model = make(name, cutoff=2.5)
    batch = random_molecules(3, seed=4)
    exact = name in EXACT
    assert_equivariant(model, batch, tol=1e-10, rotations=exact, reflections=exact)


def test_egnn_soft_edges_and_invariant_only_variant():
    batch = random_molecules(3, seed=5)
    assert_equivariant(make("egnn", soft_edges=True, update_coords=False), batch, tol=1e-10)
    with pytest.raises(ValueError, match="update_coords"):
        models.create("egnn", output="node_vector", update_coords=False)


def test_egnn_node_vector_is_the_coordinate_displacement_with_velocity_term():
    batch = vector_batch(6)
    model = make("egnn", output="node_vector", in_features=2, vector_in=1)
    base = model(batch)
    faster = batch.clone()
    faster.vec = batch.vec * 2.0
    assert (model(faster) - base).abs().max() > 1e-6  # velocities move the particles


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_attention_is_exact_for_translations_permutations_and_rotated_grid(dtype):
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    batch = random_molecules(3, seed=7, dtype=dtype)
    model = make("r3s2-attention", dtype)
    assert_equivariant(model, batch, tol=tol, rotations=False, reflections=False)
    vmodel = make("r3s2-attention", dtype, output="node_vector", num_outputs=2, in_features=2,
                  vector_in=1)
    assert_equivariant(vmodel, vector_batch(8, dtype), tol=tol, rotations=False, reflections=False)
    r = random_rotation(torch.Generator().manual_seed(9), dtype)
    moved = batch.clone()
    moved.pos = batch.pos @ r.T
    ref = model(batch)
    model.space = model.space.rotated(r)
    torch.testing.assert_close(model(moved), ref, rtol=tol, atol=tol)


def test_attention_rotation_error_is_small_and_shrinks_with_the_grid():
    batch = random_molecules(3, seed=10)
    only_rotations = {"reflections": False, "translations": False, "permutations": False}
    err = {o: equivariance_errors(make("r3s2-attention", space={"num_orientations": o}), batch,
                                  **only_rotations)["rotation"]
           for o in (8, 32)}
    assert err[32] < err[8] < 0.5


def test_attention_weights_are_normalised_per_point_and_orientation():
    from regconv.nn.attention_conv import AttentionGroupConv

    torch.manual_seed(0)
    conv = AttentionGroupConv(4, 3, 0, heads=2, bias=False).double()
    with torch.no_grad():
        conv.spatial.weight.zero_()
        conv.spatial.weight[:, 0] = 1.0  # kernel = 1 everywhere: output = attention-weighted mean
    f = torch.ones(3, 2, 4, dtype=torch.float64)
    edge_index = torch.tensor([[1, 2, 0], [0, 0, 1]])
    basis = torch.zeros(3, 2, 3, dtype=torch.float64)
    basis[..., 0] = 1.0
    basis[..., 1] = torch.randn(3, 2, dtype=torch.float64)
    out = conv(f, edge_index, basis)
    torch.testing.assert_close(out[:2], torch.ones(2, 2, 4, dtype=torch.float64))
    assert out[2].abs().max() == 0  # no incoming edge


def test_spherenet_chirality():
    batch = random_molecules(3, seed=11, atoms=(5, 9))
    mirror = batch.clone()
    mirror.pos = batch.pos @ random_reflection(torch.Generator().manual_seed(12)).T
    chiral = make("spherenet", chiral=True)
    # at init the triplet path is weak (~1e-7 relative), still 1e8 above float64 rounding
    assert (chiral(mirror) - chiral(batch)).abs().max() > 1e-9 * chiral(batch).abs().max()
    assert_equivariant(chiral, batch, tol=1e-10, reflections=False)
    achiral = make("spherenet", chiral=False)
    torch.testing.assert_close(achiral(mirror), achiral(batch), rtol=1e-10, atol=1e-12)


def test_dimenet_is_blind_to_the_torsion_spherenet_is_not():
    # Two conformers of a 4-atom chain differing only in the dihedral angle.
    # Bonds of length 1, bond angles 140 degrees, cutoff 1.8: only the 3 bonds are edges.
    def chain(phi):
        sa, ca = math.sin(math.radians(140)), math.cos(math.radians(140))
        p = torch.tensor([[sa, 0.0, ca], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0],
                          [sa * math.cos(phi), sa * math.sin(phi), 1.0 - ca]], dtype=torch.float64)
        return Batch.from_data_list([Data(pos=p, z=torch.tensor([6, 6, 6, 6]))])

    a, b = chain(1.0), chain(2.0)
    dimenet = make("dimenet", cutoff=1.8)
    spherenet = make("spherenet", cutoff=1.8)
    torch.testing.assert_close(dimenet(a), dimenet(b), rtol=1e-12, atol=1e-12)
    assert (spherenet(a) - spherenet(b)).abs().max() > 1e-6 * spherenet(a).abs().max()


def test_spherenet_reference_neighbours_break_ties_by_index():
    # node 0 receives from 1, 2, 3: 2 and 3 are tied nearest, 1 is farther.
    edge_index = torch.tensor([[1, 2, 3, 0], [0, 0, 0, 1]])
    length = torch.tensor([2.0, 1.0, 1.0 + 1e-12, 2.0], dtype=torch.float64)
    ref = reference_edges(edge_index, length, 4, 1e-5)
    # edge 1->0: nearest other is 2 (tie with 3, smaller index): edge 1; edges 2->0, 3->0: each
    # other; edge 0->1: node 1 has no other neighbour.
    assert ref.tolist() == [1, 2, 1, -1]


def test_spherenet_is_exact_on_symmetric_molecules_with_tied_distances_and_degenerate_cases():
    s = 1.09 / 3**0.5
    methane = torch.tensor([[0, 0, 0], [s, s, s], [s, -s, -s], [-s, s, -s], [-s, -s, s]],
                           dtype=torch.float64)
    line = torch.tensor([[0.0, 0, 0], [0, 0, 1.2], [0, 0, 2.4]], dtype=torch.float64)  # collinear
    pair = torch.tensor([[0.0, 0, 0], [0, 0, 1.1]], dtype=torch.float64)  # no triplet at all
    batch = Batch.from_data_list([
        Data(pos=methane, z=torch.tensor([6, 1, 1, 1, 1])),
        Data(pos=line, z=torch.tensor([6, 6, 8])),
        Data(pos=pair, z=torch.tensor([1, 1])),
    ])
    for chiral in (False, True):
        model = make("spherenet", chiral=chiral)
        out = model(batch)
        assert torch.isfinite(out).all()
        assert_equivariant(model, batch, tol=1e-10, reflections=not chiral, permutations=False)


@pytest.mark.parametrize("name", NAMES)
def test_outputs_are_continuous_as_an_atom_crosses_the_cutoff(name):
    # Atom 3 approaches atom 0, whose only other neighbour is atom 1 (so for spherenet it becomes
    # the torsion reference of the edge 1 -> 0 as soon as it enters the cutoff).
    cutoff = 2.0
    base = torch.tensor([[0.0, 0.0, 0.0], [1.2, 0.0, 0.0], [1.9, 1.0, 0.3]], dtype=torch.float64)

    def at(d):
        p = torch.cat([base, torch.tensor([[-0.3, d * 0.6, d * 0.8]], dtype=torch.float64)])
        return Batch.from_data_list([Data(pos=p, z=torch.tensor([6, 6, 8, 1]))])

    # the distance of atom 3 to atom 0 is |(-0.3, 0.6 d, 0.8 d)|; solve for the cutoff
    d_cut = (cutoff**2 - 0.09) ** 0.5
    model = make(name, cutoff=cutoff)
    inside, outside = model(at(d_cut - 1e-7)), model(at(d_cut + 1e-7))
    assert (inside - outside).abs().max() < 1e-6 * outside.abs().max()
    near = model(at(d_cut - 0.3))
    assert (near - inside).abs().max() > 1e-5 * inside.abs().max()  # the atom does matter


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("output", ["graph", "node_vector"])
def test_every_parameter_gets_a_finite_gradient(name, output):
    # (unused parameters break DistributedDataParallel without find_unused_parameters)
    model = make(name, output=output, in_features=2, vector_in=1, cutoff=2.5).train()
    batch = vector_batch(16)
    batch.pos.requires_grad_(True)
    model(batch).square().sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert torch.isfinite(batch.pos.grad).all()


@pytest.mark.parametrize("name", NAMES)
def test_forward_has_no_side_effects(name):
    batch = vector_batch(13)
    before = {k: v.clone() for k, v in batch.to_dict().items() if torch.is_tensor(v)}
    model = make(name, output="node_vector", in_features=2, vector_in=1)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    a, b = model(batch), model(batch)
    assert torch.equal(a, b)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert all(torch.equal(v, getattr(batch, k)) for k, v in before.items())


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_raises_value_error(name):
    model = make(name)
    batch = random_molecules(2, seed=14)
    assert_rejects_bad_atoms(model, batch)
    vmodel = make(name, in_features=2, vector_in=1)
    with pytest.raises(ValueError, match="vec"):
        vmodel(random_molecules(2, seed=14, in_features=2))
    with pytest.raises(ValueError, match="output"):
        models.create(name, output="scalar")
    with pytest.raises(ValueError, match="cutoff"):
        models.create(name, cutoff=-1.0)


def test_bad_layer_arguments():
    with pytest.raises(ValueError, match="divisible"):
        models.create("r3s2-attention", hidden=10, block={"heads": 4})
    with pytest.raises(ValueError, match="tie_tolerance"):
        models.create("spherenet", tie_tolerance=-1.0)
    dup = Batch.from_data_list([Data(pos=torch.zeros(3, 3, dtype=torch.float64),
                                     z=torch.tensor([1, 1, 6]))])
    for name in ("dimenet", "spherenet"):
        with pytest.raises(ValueError, match="share a position"):
            make(name)(dup)


def test_checkpoints_reload_in_a_new_process_with_identical_outputs(tmp_path):
    batch = vector_batch(15)
    entries = []
    for name in NAMES:
        opts = {**SMALL_BY_NAME[name], "output": "node_vector", "in_features": 2, "vector_in": 1}
        model = make(name, **{k: v for k, v in opts.items() if k not in SMALL_BY_NAME[name]})
        entries.append({"name": name, "options": opts, "state": model.state_dict(),
                        "out": model(batch)})
    torch.save({"entries": entries, "batch": batch}, tmp_path / "ckpt.pt")
    script = textwrap.dedent(f"""
        import torch
        from regconv import models
        torch.set_num_threads(1)
        ck = torch.load({str(tmp_path / 'ckpt.pt')!r}, weights_only=False)
        for e in ck["entries"]:
            m = models.create(e["name"], **e["options"]).double().eval()
            m.load_state_dict(e["state"])
            assert torch.equal(m(ck["batch"]), e["out"]), e["name"] + ": differs after reload"
        print("identical")
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert "identical" in res.stdout


@pytest.mark.parametrize("name", ["dimenet", "spherenet"])
def test_atom_output_blocks_are_invariant(name, dtype):
    batch = random_molecules(3, dtype=dtype, seed=31)
    model = make(name, dtype, output_block="atom", out_channels=24, num_outputs=2)
    assert model(batch).shape == (3, 2)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert_equivariant(model, batch, tol=tol)


def test_atom_output_blocks_see_the_neighbourhood_at_once():
    # An atom head is a non-linear function of the summed edges: scaling one atom's incoming
    # edge features by 2 does not double that atom's output, as it would for a linear head.
    from regconv.nn.atom_output import AtomOutputBlock

    torch.manual_seed(0)
    head = AtomOutputBlock(channels=4, rbf_dim=3, num_outputs=1, out_channels=8).double()
    h, rbf = torch.randn(5, 4, dtype=torch.float64), torch.rand(5, 3, dtype=torch.float64)
    dst = torch.tensor([0, 0, 1, 1, 1])
    one = head(h, rbf, dst, 2)
    two = head(2 * h, rbf, dst, 2)
    assert one.shape == (2, 1) and not torch.allclose(two, 2 * one)
    assert torch.allclose(head(h[[1, 0, 4, 2, 3]], rbf[[1, 0, 4, 2, 3]], dst, 2), one)  # edge order


@pytest.mark.parametrize(
    "bad",
    [
        dict(output_block="node"),
        dict(output_block="atom", output="node_vector"),
        dict(out_channels=8),
    ],
)
def test_bad_output_blocks_are_rejected(bad):
    with pytest.raises(ValueError, match="output_block|out_channels"):
        models.create("dimenet", **bad)


def test_tabulated_schnet_is_the_exact_schnet_up_to_interpolation(dtype):
    # same state_dict; the filters become their linear interpolants on a 0.005 Å grid
    batch = random_molecules(3, dtype=dtype, seed=6)
    exact = make("schnet", dtype, cutoff=3.0)
    table = make("schnet", dtype, cutoff=3.0, table_step=0.005)
    table.load_state_dict(exact.state_dict())
    a, b = exact(batch), table(batch)
    assert not torch.equal(a, b)
    assert torch.allclose(a, b, rtol=0, atol=1e-5 * a.abs().max().item())
    coarse = make("schnet", dtype, cutoff=3.0, table_step=0.2)
    coarse.load_state_dict(exact.state_dict())
    assert (coarse(batch) - a).abs().max() > (b - a).abs().max()  # error grows with the step


def test_tabulated_schnet_keeps_every_exact_symmetry(dtype):
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    model = make("schnet", dtype, table_step=0.01)
    assert_equivariant(model, random_molecules(3, dtype=dtype, seed=7), tol=tol)


def test_tabulated_schnet_trains_every_filter_parameter():
    model = make("schnet", table_step=0.01).train()
    model(random_molecules(2, seed=8)).sum().backward()
    for name, p in model.named_parameters():
        if "filter_net" in name:
            assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("bad", [0.0, -0.1, float("inf"), float("nan"), True, "0.01"])
def test_bad_schnet_table_steps_are_rejected(bad):
    with pytest.raises(ValueError, match="table_step"):
        models.create("schnet", table_step=bad)
