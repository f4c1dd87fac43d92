"""Every space against the interface it declares (regconv.spaces.base): types, dimensions, flags,
the rotated-grid convention and the grids as buffers."""

import pytest
import torch

from regconv.geometry import random_reflection, random_rotation
from regconv.spaces import R3, R3S2, SE3, EdgeSpace, FibreSpace, HomogeneousSpace, R3S2Edge

FIBRE_SPACES = {
    "r3": lambda: R3(),
    "r3s2": lambda: R3S2(10),
    "r3s2-chiral": lambda: R3S2(10, chiral=True),
    "se3-tetrahedral": lambda: SE3("tetrahedral"),
    "se3-octahedral": lambda: SE3("octahedral"),
}
GRID_SPACES = [name for name in FIBRE_SPACES if name != "r3"]


def _space(name):
    return FIBRE_SPACES[name]().double()


def _x(e=7, seed=0):
    return torch.randn(e, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("name", list(FIBRE_SPACES))
def test_fibre_spaces_are_instances_of_the_declared_interface(name):
    space = _space(name)
    assert isinstance(space, FibreSpace) and isinstance(space, HomogeneousSpace)
    assert not isinstance(space, EdgeSpace)


def test_edge_space_is_an_instance_of_the_declared_interface():
    space = R3S2Edge()
    assert isinstance(space, EdgeSpace) and isinstance(space, HomogeneousSpace)
    assert not isinstance(space, FibreSpace)
    assert space.num_fibre == 1


@pytest.mark.parametrize("name", list(FIBRE_SPACES))
def test_declared_dimensions_match_the_returned_shapes(name):
    space = _space(name)
    e, o_ = 7, space.num_fibre
    x = _x(e)
    assert space.spatial_invariants(x).shape == (e, o_, space.spatial_dim)
    fibre = space.fibre_invariants()
    if space.fibre_dim == 0:
        assert fibre is None and o_ == 1
    else:
        assert fibre.shape == (o_, o_, space.fibre_dim)
    if space.has_full_kernel:
        assert space.full_invariants(x).shape == (e, o_, o_, space.full_dim)
    else:
        assert space.full_dim is None
        with pytest.raises(ValueError, match="no full kernel"):
            space.full_invariants(x)


@pytest.mark.parametrize("name", list(FIBRE_SPACES))
def test_spatial_invariants_are_coordinates_whose_norm_is_the_distance(name):
    # the contract the kernel basis's distance Gaussians (KernelBasis(radial=...)) rely on; the
    # grid is built in float64 (a float32 grid cast to float64 has normals of length 1 +- 1e-8)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        space = FIBRE_SPACES[name]()
    finally:
        torch.set_default_dtype(old)
    x = _x(9, seed=3)
    spatial = space.spatial_invariants(x)  # [E, O, S]
    norm = torch.linalg.vector_norm(spatial, dim=-1)  # [E, O]
    expected = torch.linalg.vector_norm(x, dim=-1, keepdim=True).expand_as(norm)
    torch.testing.assert_close(norm, expected, rtol=1e-12, atol=1e-12)
    if space.has_full_kernel:  # the full invariants start with the spatial ones
        lead = space.full_invariants(x)[..., : space.spatial_dim]  # [E, O, O, S]
        torch.testing.assert_close(lead, spatial.unsqueeze(2).expand_as(lead), rtol=0, atol=0)


@pytest.mark.parametrize("name", list(FIBRE_SPACES))
def test_lift_and_project_shapes_follow_vector_components(name):
    space = _space(name)
    n, v_count, comp = 4, 3, space.vector_components
    vec = torch.randn(n, v_count, 3, dtype=torch.float64)
    assert space.lift_vectors(vec).shape == (n, space.num_fibre, v_count * max(1, comp))
    if comp == 0:
        with pytest.raises(ValueError):
            space.project_vectors(torch.zeros(n, space.num_fibre, v_count))
    else:
        f = torch.randn(n, space.num_fibre, v_count * comp, dtype=torch.float64)
        assert space.project_vectors(f).shape == (n, v_count, 3)


def test_edge_space_shapes_match_pair_dim():
    space = R3S2Edge()
    pos = _x(4)
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    n, length = space.edge_points(pos[edge_index[0]] - pos[edge_index[1]])
    assert n.shape == (4, 3) and length.shape == (4, 1)
    torch.testing.assert_close(
        n.norm(dim=-1), torch.ones(4, dtype=torch.float64), rtol=0, atol=1e-12
    )
    pairs = torch.tensor([[0, 1, 2], [1, 2, 3]])
    assert space.pair_invariants(n, length, pairs).shape == (3, space.pair_dim)
    vec = torch.randn(4, 2, 3, dtype=torch.float64)
    assert space.lift_vectors(vec, edge_index, n).shape == (4, 2 * 2)


def test_exact_and_chiral_flags_are_as_documented():
    assert R3().exact and not R3().chiral
    assert not R3S2(8).exact and not R3S2(8).chiral
    assert R3S2(8, chiral=True).chiral and not R3S2(8, chiral=True).exact
    assert not SE3().exact and SE3().chiral
    assert R3S2Edge().exact and not R3S2Edge().chiral


@pytest.mark.parametrize("name", list(FIBRE_SPACES))
def test_rotated_space_sees_rotated_inputs_as_the_original_sees_the_originals(name):
    # rotated(R) rotates the grid by R (n_o -> R n_o, R_o -> R R_o): its invariants of the rotated
    # relative positions (rows x @ R^T) are those of the original space of x.
    space = _space(name)
    r = random_rotation(torch.Generator().manual_seed(1))
    moved = space.rotated(r)
    assert type(moved) is type(space)
    x = _x()
    tol = dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        moved.spatial_invariants(x @ r.T), space.spatial_invariants(x), **tol
    )
    if space.fibre_dim:
        torch.testing.assert_close(moved.fibre_invariants(), space.fibre_invariants(), **tol)
    if space.has_full_kernel:
        torch.testing.assert_close(moved.full_invariants(x @ r.T), space.full_invariants(x), **tol)
    if name != "r3":
        # ... and not the transposed convention (the rotation is generic)
        assert not torch.allclose(
            moved.spatial_invariants(x @ r), space.spatial_invariants(x), atol=1e-6
        )
        # rotated() returns a copy: the original grid is untouched
        torch.testing.assert_close(
            space.spatial_invariants(x), _space(name).spatial_invariants(x), rtol=0, atol=0
        )


def test_r3_needs_no_grid_rotation():
    space = R3().double()
    r = random_reflection(torch.Generator().manual_seed(2))
    assert space.rotated(r) is space
    x = _x()
    torch.testing.assert_close(
        space.spatial_invariants(x @ r.T), space.spatial_invariants(x), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize("chiral", [False, True])
def test_r3s2_full_invariants_keep_the_sign_of_the_azimuth_only_when_chiral(chiral):
    # A reflection of grid and input together keeps a1, a2, a3 and c, and flips s = (n_o x x).n_p.
    space = R3S2(10, chiral=chiral).double()
    q = random_reflection(torch.Generator().manual_seed(3))
    x = _x()
    ref, moved = space.full_invariants(x), space.rotated(q).full_invariants(x @ q.T)
    tol = dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(moved[..., :4], ref[..., :4], **tol)
    torch.testing.assert_close(moved[..., 4], -ref[..., 4] if chiral else ref[..., 4], **tol)
    if chiral:
        assert ref[..., 4].abs().max() > 1e-3 and (ref[..., 4] < 0).any()
    else:
        assert (ref[..., 4] >= 0).all()
    # the separable invariants are E(3)-invariant either way
    torch.testing.assert_close(
        space.rotated(q).spatial_invariants(x @ q.T), space.spatial_invariants(x), **tol
    )


def test_se3_local_coordinates_change_sign_under_the_inversion():
    # SE(3), not E(3): the inversion x -> -x maps every local coordinate R_o^T x to its negative,
    # which no frame of the (proper) group reproduces for a generic x.
    space = SE3("octahedral").double()
    x = _x(3)
    inv = space.spatial_invariants(x)  # [E, O, 3]
    flipped = space.spatial_invariants(-x)
    torch.testing.assert_close(flipped, -inv, rtol=0, atol=0)
    # the set over the fibre differs: -R_o^T x is R_p^T x for no p
    dist = (flipped[:, :, None] - inv[:, None]).abs().amax(-1)  # [E, O, O]
    assert dist.amin(-1).min() > 1e-3


@pytest.mark.parametrize(
    "name,buffer", [("r3s2", "grid"), ("r3s2-chiral", "grid"), ("se3-octahedral", "frames")]
)
def test_grids_are_buffers_that_travel_in_state_dict(name, buffer):
    space = _space(name)
    assert buffer in dict(space.named_buffers())
    assert list(space.parameters()) == []
    state = space.state_dict()
    assert set(state) == {buffer}
    # a rotated copy's grid is what its state_dict holds, and loading it moves the original's grid
    r = random_rotation(torch.Generator().manual_seed(4))
    moved = space.rotated(r)
    fresh = _space(name)
    fresh.load_state_dict(moved.state_dict())
    torch.testing.assert_close(getattr(fresh, buffer), getattr(moved, buffer), rtol=0, atol=0)
    x = _x()
    torch.testing.assert_close(
        fresh.spatial_invariants(x), moved.spatial_invariants(x), rtol=0, atol=0
    )
    # buffers follow dtype conversion
    assert getattr(space.float(), buffer).dtype == torch.float32


def test_r3_has_no_state():
    assert R3().state_dict() == {} and R3S2Edge().state_dict() == {}
