"""Every registered model: shapes, symmetry (exact or measured), purity, checkpoints, bad input."""

import subprocess
import sys
import textwrap

import pytest
import torch

from regconv import models
from regconv.geometry import random_rotation
from regconv.spaces import rotation_group
from regconv.testing import assert_equivariant, equivariance_errors, random_molecules
from tests.helpers import assert_rejects_bad_atoms

SMALL = {"hidden": 16, "layers": 2}
FIBRE = {**SMALL, "basis": {"dim": 16}}
SMALL_BY_NAME = {
    "r3": FIBRE,
    "r3s2": {**FIBRE, "space": {"num_orientations": 8}},
    "r3s2-edge": {**SMALL, "basis_dim": 16},
    "se3": {**FIBRE, "space": {"group": "tetrahedral"}},
}
EXACT = ["r3", "r3s2-edge"]  # complete invariants, orientations from the data
GRID = ["r3s2", "se3"]  # fibre integral replaced by a grid sum
NON_CHIRAL = ["r3", "r3s2", "r3s2-edge"]


def make(name, dtype=torch.float64, **extra):
    torch.manual_seed(0)
    model = models.create(name, **{**SMALL_BY_NAME[name], **extra}).to(dtype)
    # Residual branches start near zero (layer scale); make them count so tests see the blocks.
    with torch.no_grad():
        for p_name, p in model.named_parameters():
            if p_name.endswith("gamma"):
                p.fill_(1.0)
    return model.eval()


def test_registry_lists_the_core_models():
    assert {"r3", "r3s2", "r3s2-edge", "se3"} <= set(models.available())


def test_registry_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="available"):
        models.create("nope")
    with pytest.raises(ValueError, match="no option"):
        models.create("r3", hiddn=3)


@pytest.mark.parametrize("name", sorted(SMALL_BY_NAME))
def test_graph_output_shape(name, dtype):
    batch = random_molecules(3, dtype=dtype)
    out = make(name, dtype)(batch)
    assert out.shape == (3, 1) and out.dtype == dtype and torch.isfinite(out).all()


@pytest.mark.parametrize("name", EXACT)
def test_exact_models_are_e3_invariant(name, dtype):
    batch = random_molecules(3, dtype=dtype, seed=1)
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    assert_equivariant(make(name, dtype), batch, tol=tol)


@pytest.mark.parametrize("name", EXACT + GRID)
def test_node_vector_outputs_are_equivariant(name):
    batch = random_molecules(2, seed=2, in_features=2, vector_in=1)
    model = make(name, output="node_vector", num_outputs=2, in_features=2, vector_in=1)
    out = model(batch)
    assert out.shape == (batch.pos.shape[0], 2, 3)
    if name in EXACT:
        assert_equivariant(model, batch, tol=1e-10)
    else:  # grid fibres: translations and permutations stay exact
        assert_equivariant(model, batch, tol=1e-10, rotations=False, reflections=False)


@pytest.mark.parametrize("num_orientations", [12, 20])
def test_r3s2_node_vectors_of_isolated_points_without_velocity_are_zero(num_orientations):
    # Nothing singles out a direction for an atom with no neighbours and no input vector, so
    # its output vector must vanish; Fibonacci grids of 12 and 20 points are not centred, and
    # an uncentred projection would return a constant vector here.
    batch = random_molecules(2, seed=10, in_features=2, vector_in=1)
    batch.pos = batch.pos * 100.0  # all pairs beyond the cutoff
    batch.vec = torch.zeros_like(batch.vec)
    model = make("r3s2", output="node_vector", space={"num_orientations": num_orientations},
                 cutoff=1.0, in_features=2, vector_in=1)
    assert model(batch).abs().max() < 1e-12


@pytest.mark.parametrize("name", ["r3", "r3s2", "se3"])
def test_self_loops_keep_the_symmetries(name):
    batch = random_molecules(2, seed=13, in_features=2, vector_in=1)
    model = make(
        name, output="node_vector", num_outputs=2, in_features=2, vector_in=1, self_loops=True
    )
    exact = name == "r3"
    assert_equivariant(model, batch, tol=1e-10, rotations=exact, reflections=exact)


@pytest.mark.parametrize("name", ["r3", "r3s2", "se3"])
def test_self_loops_send_a_lone_point_through_the_kernel(name):
    # Without neighbours a point's output does not depend on the kernel basis; with the self-edge
    # (displacement 0) it does.
    batch = random_molecules(2, seed=14, in_features=2, vector_in=1)
    batch.pos = batch.pos * 100.0  # every pair beyond the cutoff
    kw = dict(output="node_vector", num_outputs=1, in_features=2, vector_in=1, cutoff=1.0)
    for loops in (False, True):
        model = make(name, self_loops=loops, **kw)
        before = model(batch)
        with torch.no_grad():
            for p in model.spatial_basis.parameters():
                p.add_(0.5)
        changed = (model(batch) - before).abs().max() > 1e-6
        assert bool(changed) == loops
        assert torch.isfinite(model(batch)).all()


def test_self_loops_must_be_a_bool():
    with pytest.raises(ValueError, match="self_loops"):
        models.create("r3s2", self_loops="yes")


@pytest.mark.parametrize("name", GRID)
def test_grid_models_are_exactly_translation_and_permutation_invariant(name):
    batch = random_molecules(3, seed=3)
    assert_equivariant(make(name), batch, tol=1e-10, rotations=False, reflections=False)


def test_r3s2_error_is_all_quadrature_rotating_the_grid_is_exact():
    batch = random_molecules(3, seed=4)
    assert_invariant_when_the_grid_turns(make("r3s2"), batch, seed=5)


TABLE = {"separable": {"step": 0.1}, "full": None}  # the full kernel has no table


@pytest.mark.parametrize("kernel", ["separable", "full"])
def test_r3s2_rotation_error_is_small_and_shrinks_with_the_grid(kernel):
    batch = random_molecules(3, seed=6)
    err = {
        o: equivariance_errors(
            make("r3s2", space={"num_orientations": o}, block={"kind": kernel},
                 table=TABLE[kernel]),
            batch,
            reflections=False,
            translations=False,
            permutations=False,
        )["rotation"]
        for o in (8, 32)
    }
    assert err[32] < err[8] < 0.5


def test_r3s2_full_kernel_is_exact_for_translations_permutations_and_grid_rotation():
    batch = random_molecules(2, seed=7)
    model = make("r3s2", block={"kind": "full"}, space={"num_orientations": 6}, table=None)
    assert_equivariant(model, batch, tol=1e-10, rotations=False, reflections=False)
    assert_invariant_when_the_grid_turns(model, batch, seed=8)


def assert_invariant_when_the_grid_turns(model, batch, *, seed):
    """A fibre model on rotated molecules, with its grid rotated alike, gives what it gave before
    (to 1e-10); restores the model's grid afterwards."""
    r = random_rotation(torch.Generator().manual_seed(seed))
    moved = batch.clone()
    moved.pos = batch.pos @ r.T
    ref = model(batch)
    space = model.space
    model.space = space.rotated(r)
    try:
        assert torch.allclose(model(moved), ref, rtol=1e-10, atol=1e-12)
    finally:
        model.space = space


def test_se3_is_exactly_invariant_to_its_group_and_chiral():
    batch = random_molecules(3, seed=9)
    model = make("se3", space={"group": "tetrahedral"})
    ref = model(batch)
    for g in rotation_group("tetrahedral")[1:4]:
        moved = batch.clone()
        moved.pos = batch.pos @ g.T
        assert torch.allclose(model(moved), ref, rtol=1e-10, atol=1e-12)
    mirrored = batch.clone()
    mirrored.pos = batch.pos * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert (model(mirrored) - ref).abs().max() > 1e-6


@pytest.mark.parametrize("name", sorted(SMALL_BY_NAME))
def test_forward_has_no_side_effects(name):
    batch = random_molecules(2, seed=10)
    before = {k: v.clone() for k, v in batch.to_dict().items() if torch.is_tensor(v)}
    model = make(name)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    a, b = model(batch), model(batch)
    assert torch.equal(a, b)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    assert all(torch.equal(v, getattr(batch, k)) for k, v in before.items())


@pytest.mark.parametrize("name", sorted(SMALL_BY_NAME))
def test_initial_residual_stream_has_unit_scale(name):
    torch.manual_seed(0)
    model = models.create(
        name,
        hidden=64,
        layers=3,
        **{k: v for k, v in SMALL_BY_NAME[name].items() if k == "space"},
    ).double()
    batch = random_molecules(4, seed=11)
    captured = []
    model.blocks[-1].register_forward_hook(lambda m, i, o: captured.append(o))
    model(batch)
    std = float(captured[0].detach().std())
    assert 0.5 < std < 2.0


@pytest.mark.parametrize("name", sorted(SMALL_BY_NAME))
def test_bad_input_raises_value_error(name):
    model = make(name)
    batch = random_molecules(2, seed=12)
    assert_rejects_bad_atoms(model, batch)


@pytest.mark.parametrize("name", sorted(SMALL_BY_NAME))
def test_checkpoint_reloads_in_a_new_process_with_identical_outputs(name, tmp_path):
    model = make(name)
    batch = random_molecules(2, seed=13)
    torch.save(
        {
            "name": name,
            "options": SMALL_BY_NAME[name],
            "state": model.state_dict(),
            "batch": batch,
            "out": model(batch),
        },
        tmp_path / "ckpt.pt",
    )
    script = textwrap.dedent(f"""
        import torch
        from regconv import models
        torch.set_num_threads(1)
        ck = torch.load({str(tmp_path / "ckpt.pt")!r}, weights_only=False)
        m = models.create(ck["name"], **ck["options"]).double().eval()
        m.load_state_dict(ck["state"])
        assert torch.equal(m(ck["batch"]), ck["out"]), "outputs differ after reload"
        print("identical")
    """)
    res = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "identical" in res.stdout


@pytest.mark.parametrize("name", [n for n in models.available() if not n.endswith("-nbody")])
def test_every_registered_model_runs_with_defaults_on_a_qm9_batch(name):
    from torch_geometric.loader import DataLoader

    from regconv.data import QM9

    batch = next(iter(DataLoader(QM9(split="val", subset=6), batch_size=6)))
    torch.manual_seed(0)
    out = models.create(name)(batch)
    assert out.shape == (6, 1) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", [n for n in models.available() if n.endswith("-nbody")])
def test_nbody_variants_run_with_defaults_on_charges_and_velocities(name):
    batch = random_molecules(2, seed=3, dtype=torch.float32, in_features=1, vector_in=1)
    torch.manual_seed(0)
    model = models.create(name, output="node_vector", in_features=1, vector_in=1)
    out = model(batch)
    assert out.shape == (batch.num_nodes, 1, 3) and torch.isfinite(out).all()
    assert len(model.pair_features) == 2 and model.self_loops and model.cutoff is None
    # the variant's own defaults are the N-body task's contract: it runs as created
    torch.manual_seed(0)
    plain = models.create(name)
    assert (plain.output, plain.in_features, plain.vector_in) == ("node_vector", 1, 1)
    assert torch.equal(plain(batch), out)


@pytest.mark.parametrize("name", ["r3-nbody", "r3s2-nbody"])
def test_a_pair_feature_without_its_node_vector_fails_at_construction(name):
    # the closest approach reads the velocities, node vector 0: without vector_in the model
    # must not build (it used to fail only at the first forward pass)
    with pytest.raises(ValueError, match="ClosestApproach reads node vector 0.*set vector_in >= 1"):
        models.create(name, vector_in=0)
    heading = [{"kind": "heading", "horizon": 1.0, "vector": 1}]
    with pytest.raises(ValueError, match="vector_in >= 2"):
        models.create("r3s2", vector_in=1, pair_features=heading, table=None)
    assert models.create("r3s2", vector_in=2, pair_features=heading, table=None).vector_in == 2


@pytest.mark.parametrize("name", ["r3", "r3s2", "se3"])
def test_readout_of_all_layers_keeps_the_symmetries(name):
    batch = random_molecules(2, seed=21, in_features=2, vector_in=1)
    kw = dict(output="node_vector", num_outputs=2, in_features=2, vector_in=1)
    model = make(name, readout={"all_layers": True}, **kw)
    exact = name == "r3"
    assert_equivariant(model, batch, tol=1e-10, rotations=exact, reflections=exact)


def test_readout_of_all_layers_sees_every_block():
    # With readouts from every block, the output moves when only the first block's LayerNorm
    # (used by nothing but the readout) changes; without, that norm does not exist.
    batch = random_molecules(2, seed=22)
    model = make("r3s2", readout={"all_layers": True})
    assert len(model.layer_norms) == SMALL["layers"] - 1
    before = model(batch)
    with torch.no_grad():
        model.layer_norms[0].bias.add_(0.3)
    assert (model(batch) - before).abs().max() > 1e-6
    assert make("r3s2").layer_norms is None


@pytest.mark.parametrize("name", ["r3", "r3s2", "schnet"])
def test_mean_pooling_is_the_sum_over_the_number_of_atoms(name):
    def build(pooling):
        if name == "schnet":
            torch.manual_seed(0)
            return models.create("schnet", hidden=16, layers=2, num_rbf=8, pooling=pooling).double()
        return make(name, readout={"pooling": pooling})

    batch = random_molecules(3, seed=23)
    total = build("sum")(batch)  # same seed, same weights
    mean = build("mean")(batch)
    counts = torch.bincount(batch.batch).to(total.dtype).unsqueeze(-1)
    assert torch.allclose(mean * counts, total, atol=1e-12)
    exact = name != "r3s2"
    assert_equivariant(build("mean"), batch, tol=1e-10, rotations=exact, reflections=exact)


BAD_READOUTS = [  # (the fibre model's options, SchNet's or None)
    (dict(readout={"pooling": "max"}), dict(pooling="max")),
    (dict(readout={"pooling": "mean"}, output="node_vector"),
     dict(pooling="mean", output="node_vector")),
    (dict(readout={"hidden": 8}, output="node_vector"), None),
    (dict(readout={"all_layers": 1}), None),
    (dict(readout={"hidden": 1.5}), None),
]  # fmt: skip


@pytest.mark.parametrize(("bad", "schnet"), BAD_READOUTS)
def test_bad_readout_options_are_rejected(bad, schnet):
    with pytest.raises(ValueError, match="readout.(pooling|all_layers|hidden)"):
        models.create("r3s2", **bad)
    if schnet is not None:
        with pytest.raises(ValueError, match="pooling"):
            models.create("schnet", **schnet)
