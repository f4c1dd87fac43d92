import pytest
import torch

from regconv.geometry import random_rotation
from regconv.spaces import R3, R3S2, SE3, R3S2Edge, fibonacci_sphere, rotation_group


@pytest.mark.parametrize("num", [1, 8, 16, 64])
def test_fibonacci_grid_is_deterministic_and_unit(num):
    a, b = fibonacci_sphere(num), fibonacci_sphere(num)
    assert torch.equal(a, b)
    assert torch.allclose(a.norm(dim=-1), torch.ones(num, dtype=a.dtype), atol=1e-15)


def test_fibonacci_grid_is_near_uniform():
    g = fibonacci_sphere(64)
    assert g.mean(0).norm() < 0.02
    assert torch.allclose(g.T @ g * 3 / 64, torch.eye(3, dtype=g.dtype), atol=0.05)


@pytest.mark.parametrize("name,size", [("tetrahedral", 12), ("octahedral", 24), ("icosahedral", 60)])
def test_rotation_group_is_a_closed_group_of_rotations(name, size):
    g = rotation_group(name)
    assert g.shape == (size, 3, 3)
    assert torch.allclose(g @ g.transpose(1, 2), torch.eye(3, dtype=g.dtype).expand(size, 3, 3), atol=1e-12)
    assert torch.allclose(torch.det(g), torch.ones(size, dtype=g.dtype), atol=1e-12)
    products = (g[:, None] @ g[None]).reshape(-1, 9)
    dist = (products[:, None, :] - g.reshape(1, -1, 9)).abs().amax(-1)
    assert dist.min(dim=1).values.max() < 1e-9


def test_rotation_group_rejects_unknown_name():
    with pytest.raises(ValueError, match="octahedral"):
        rotation_group("cubic")


def test_grids_are_buffers_in_state_dict():
    assert "grid" in R3S2(8).state_dict()
    assert "frames" in SE3().state_dict()


def test_r3s2_rejects_tiny_grids():
    with pytest.raises(ValueError, match="at least 3"):
        R3S2(2)


@pytest.mark.parametrize(
    "space", [R3S2(16), R3S2(7), R3S2(12), SE3("tetrahedral")], ids=["r3s2-16", "r3s2-7", "r3s2-12", "se3"]
)
def test_lift_then_project_returns_the_vector(space):
    space = space.double()
    v = torch.randn(5, 2, 3, dtype=torch.float64)
    assert torch.allclose(space.project_vectors(space.lift_vectors(v)), v, atol=1e-12)


@pytest.mark.parametrize("space", [R3S2(10), SE3("octahedral")], ids=["r3s2", "se3"])
def test_projection_is_equivariant_when_the_grid_rotates(space):
    space = space.double()
    r = random_rotation(torch.Generator().manual_seed(0))
    f = torch.randn(4, space.num_fibre, 3 * space.vector_components, dtype=torch.float64)
    moved = space.rotated(r)
    assert torch.allclose(moved.project_vectors(f), space.project_vectors(f) @ r.T, atol=1e-12)


def test_r3_lifts_vectors_to_their_norms_and_cannot_project():
    v = torch.randn(4, 2, 3)
    assert torch.allclose(R3().lift_vectors(v)[:, 0], v.norm(dim=-1))
    with pytest.raises(ValueError, match="trivial fibre"):
        R3().project_vectors(torch.zeros(4, 1, 2))


def test_edge_space_invariants_and_duplicate_atoms():
    space = R3S2Edge()
    pos = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [1.0, 1.0, 0]], dtype=torch.float64)
    edge_index = torch.tensor([[0, 1], [1, 2]])  # 0->1, 1->2
    n, length = space.edge_points(pos[edge_index[0]] - pos[edge_index[1]])
    inv = space.pair_invariants(n, length, torch.tensor([[0], [1]]))
    assert torch.allclose(inv, torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="share a position"):
        space.edge_points(torch.zeros(1, 3))


@pytest.mark.parametrize("num", [12, 20])
def test_r3s2_projection_sends_fibre_constant_features_to_zero(num):
    # Fibonacci grids of 12 and 20 points have a mean direction of norm 0.023 and 0.011: an
    # uncentred projection would map invariants (constant over the fibre) to a fixed vector.
    space = R3S2(num).double()
    assert space.grid.mean(0).norm() > 1e-2  # the case the centring is for
    const = torch.randn(4, 1, 2, dtype=torch.float64).expand(-1, num, -1)
    assert space.project_vectors(const).abs().max() < 1e-12
    v = torch.randn(4, 2, 3, dtype=torch.float64)
    assert torch.allclose(space.project_vectors(space.lift_vectors(v) + const), v, atol=1e-12)
