"""Pair features: their values, their symmetries inside a model, and their specs."""

import pytest
import torch
from torch_geometric.data import Batch, Data

from regconv import models
from regconv.kernels.pair_features import (
    ClosestApproach,
    HeadingInvariants,
    InverseSquareDistance,
    PairGeometry,
    build_pair_features,
)
from regconv.spaces import R3, R3S2
from regconv.testing import assert_equivariant, random_molecules

SMALL = {"hidden": 16, "layers": 2}
# r3s2 with the exact kernel: pair features add kernel inputs beyond the two a table takes
GRID = {
    "r3": {},
    "r3s2": {"space": {"num_orientations": 8}, "table": None},
    "se3": {"space": {"group": "tetrahedral"}},
}
NODE_VECTORS = dict(output="node_vector", num_outputs=2, in_features=2, vector_in=1)


def make(name, features, length_scale=5.0, kernel="separable", **kw):
    torch.manual_seed(0)
    basis = {"dim": 16, "length_scale": length_scale}
    block = {"kind": kernel, "layer_scale": 1.0}
    model = models.create(
        name, **SMALL, **GRID[name], basis=basis, block=block, pair_features=features, **kw
    )
    return model.double().eval()


def _pairs(x, v=None, length_scale=1.0):
    """Pairs 0 -> 1 with relative position x [E, 3] (and relative velocity v [E, 3])."""
    e = x.shape[0]
    edge_index = torch.stack([torch.arange(e) * 2, torch.arange(e) * 2 + 1])
    vec = None
    if v is not None:  # node 2k carries v, node 2k+1 none: v_j - v_i = v for the edge (2k -> 2k+1)
        vec = torch.zeros(2 * e, 1, 3, dtype=x.dtype)
        vec[0::2, 0] = v
    return PairGeometry(edge_index, x / length_scale, length_scale, vec)


def test_inverse_square_distance_values():
    x = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 0.0]], dtype=torch.float64)
    f = InverseSquareDistance([1.0, 5.0])(_pairs(x, length_scale=2.5), R3())
    expected = torch.tensor([[1 / 26, 25 / 50], [1.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(f, expected)


def test_closest_approach_tells_approaching_from_receding_pairs():
    x = torch.tensor([[2.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)
    v = torch.tensor([[-2.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)  # towards, away
    f = ClosestApproach([0.5], horizon=1.0)(_pairs(x, v), R3())
    torch.testing.assert_close(f[:, 0], torch.tensor([1.0, 0.25 / 4.25], dtype=torch.float64))
    short = ClosestApproach([0.5], horizon=0.25)(_pairs(x, v), R3())  # at 1.5 when time is up
    torch.testing.assert_close(short[0, 0], torch.tensor(0.25 / 2.5, dtype=torch.float64))


def test_heading_invariants_are_the_spaces_invariants_of_the_position_at_the_horizon():
    space = R3S2(8).double()
    x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    v = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)
    f = HeadingInvariants(horizon=2.0)(_pairs(x, v, length_scale=2.0), space)
    torch.testing.assert_close(f, space.spatial_invariants((x + 2.0 * v) / 2.0))
    assert HeadingInvariants(1.0).size(space) == 2


def test_a_feature_reading_a_vector_the_batch_lacks_says_so():
    x = torch.ones(1, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="node vector 0"):
        ClosestApproach([1.0], 1.0)(_pairs(x), R3())


def test_features_are_appended_to_the_invariants_in_the_order_given():
    feats = [{"kind": "heading", "horizon": 2.0}, {"kind": "inverse_square", "scales": [0.5, 1.0]}]
    model = make("r3s2", feats, **NODE_VECTORS, length_scale=1.0)
    assert model.spatial_basis.poly.in_dim == 2 + 2 + 2
    x = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    pairs = _pairs(x, torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64))
    inv = model.pair_invariants(pairs)  # [1, O, 6]
    torch.testing.assert_close(inv[..., :2], model.space.spatial_invariants(x))
    torch.testing.assert_close(inv[..., 2:4], model.space.spatial_invariants(x + 2.0 * pairs.relative(0)))
    d2 = torch.tensor([0.25, 1.0], dtype=torch.float64)
    torch.testing.assert_close(inv[0, 3, 4:], d2 / (1.0 + d2))
    full = make("r3s2", feats, **NODE_VECTORS, length_scale=1.0, kernel="full")
    assert full.pair_invariants(pairs).shape == (1, 8, 8, 5 + 2 + 2)


@pytest.mark.parametrize("name", sorted(GRID))
@pytest.mark.parametrize("heading", [False, True])
def test_models_with_pair_features_keep_their_symmetries(name, heading):
    batch = random_molecules(2, seed=26, in_features=2, vector_in=1)
    feats = [{"kind": "inverse_square", "scales": [0.3, 1.0]},
             {"kind": "closest_approach", "scales": [0.3, 1.0], "horizon": 1.0}]
    if heading:
        feats.insert(0, {"kind": "heading", "horizon": 1.0})
    model = make(name, feats, self_loops=True, **NODE_VECTORS)
    exact = name == "r3"
    assert_equivariant(model, batch, tol=1e-10, rotations=exact, reflections=exact)


def test_closest_approach_sees_only_relative_velocities():
    # with the velocity input itself switched off, a common boost changes nothing
    batch = random_molecules(2, seed=27, in_features=2, vector_in=1)
    feats = [{"kind": "closest_approach", "scales": [0.3, 1.0], "horizon": 1.0}]
    model = make("r3s2", feats, **NODE_VECTORS)
    with torch.no_grad():
        model.embed_vec.weight.zero_()
    boosted = batch.clone()
    boosted.vec = batch.vec + torch.tensor([0.3, -0.2, 0.5], dtype=batch.vec.dtype)
    torch.testing.assert_close(model(boosted), model(batch), atol=1e-10, rtol=0)


def test_the_kernel_sees_the_features():
    def pair(sign):
        pos = torch.tensor([[-1.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64)
        vec = sign * torch.tensor([[[1.0, 0, 0]], [[-1.0, 0, 0]]], dtype=torch.float64)
        return Batch.from_data_list([Data(pos=pos, vec=vec, x=torch.ones(2, 1, dtype=torch.float64))])

    feats = [{"kind": "closest_approach", "scales": [0.5], "horizon": 1.0}]
    model = make("r3", feats, output="node_vector", in_features=1, vector_in=1, length_scale=1.0)
    # approaching and receding pairs differ by more than the sign of the velocities
    assert not torch.allclose(model(pair(1.0)), -model(pair(-1.0)))


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"kind": "inverse_square", "scales": []}, "scales"),
        ({"kind": "inverse_square", "scales": [0.0]}, "scales"),
        ({"kind": "inverse_square", "scales": [float("inf")]}, "scales"),
        ({"kind": "inverse_square", "scales": "1.0"}, "scales"),
        ({"kind": "inverse_square", "scales": [True]}, "scales"),
        ({"kind": "closest_approach", "scales": [1.0], "horizon": 0.0}, "horizon"),
        ({"kind": "heading", "horizon": -1.0}, "horizon"),
        ({"kind": "heading"}, "heading"),
        ({"kind": "velocity"}, "unknown kind"),
        ({"scales": [1.0]}, "kind"),
    ],
)
def test_bad_specs_are_rejected_with_their_position(bad, match):
    with pytest.raises(ValueError, match=match):
        build_pair_features([{"kind": "inverse_square", "scales": [1.0]}, bad])
    with pytest.raises(ValueError, match="pair_features"):
        build_pair_features({"kind": "inverse_square", "scales": [1.0]})


def test_a_table_allows_at_most_two_kernel_inputs_besides_distance_features():
    closest = [{"kind": "closest_approach", "scales": [1.0], "horizon": 1.0}]
    with pytest.raises(ValueError, match="at most 2"):
        models.create("r3s2", vector_in=1, table={"step": 0.1}, pair_features=closest)
    model = models.create("r3", vector_in=1, table={"step": 0.1}, pair_features=closest)
    batch = random_molecules(2, seed=5, dtype=torch.float32)
    batch.vec = torch.randn(batch.num_nodes, 1, 3)
    assert torch.isfinite(model(batch)).all()


@pytest.mark.parametrize("name", ["r3", "r3s2"])
def test_distance_features_are_evaluated_at_the_tables_nodes(name):
    # The same kernel as the exact one's (the features of the distance come with the
    # invariants there): the tabulated model converges to it as O(step^3) (quadratic order).
    feature = [{"kind": "inverse_square", "scales": [0.7, 1.5]}]
    options = dict(hidden=8, layers=2, basis={"dim": 8, "length_scale": 1.0}, cutoff=4.0)
    torch.manual_seed(0)
    exact = models.create(name, pair_features=feature, table=None, **options).double()
    assert len(exact.edge_features) == 1 and not exact.spatial_basis.distance_features
    batch = random_molecules(2, seed=5, dtype=torch.float64)
    ref = exact(batch)
    errors = []
    for step in (0.1, 0.05):
        table = {"step": step, "order": "quadratic"}
        tab = models.create(name, pair_features=feature, table=table, **options).double()
        assert not tab.edge_features and len(tab.spatial_basis.distance_features) == 1
        tab.load_state_dict(exact.state_dict())  # same parameters
        errors.append(float((tab(batch) - ref).detach().abs().max()))
    assert errors[1] < errors[0] / 4 and errors[1] < 1e-3 * float(ref.abs().max()), errors
