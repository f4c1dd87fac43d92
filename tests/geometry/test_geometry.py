import math

import pytest
import torch

from regconv.geometry import (
    axial_invariants,
    axis_angle_to_matrix,
    distance,
    frame_invariants,
    full_r3s2_invariants,
    random_reflection,
    random_rotation,
    relative_frames,
    sphere_invariants,
)
from regconv.spaces import fibonacci_sphere, rotation_group


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_random_rotation_is_proper_orthogonal():
    for seed in range(5):
        r = random_rotation(_gen(seed))
        assert torch.allclose(r @ r.T, torch.eye(3, dtype=r.dtype), atol=1e-12)
        assert torch.det(r) == pytest.approx(1.0, abs=1e-12)


def test_random_reflection_is_improper_orthogonal():
    q = random_reflection(_gen(1))
    assert torch.allclose(q @ q.T, torch.eye(3, dtype=q.dtype), atol=1e-12)
    assert torch.det(q) == pytest.approx(-1.0, abs=1e-12)


def test_axis_angle_rotates_about_axis():
    r = axis_angle_to_matrix(torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64), math.pi / 2)
    assert torch.allclose(r @ torch.tensor([1.0, 0, 0], dtype=torch.float64),
                          torch.tensor([0.0, 1, 0], dtype=torch.float64), atol=1e-15)
    with pytest.raises(ValueError, match="axis"):
        axis_angle_to_matrix(torch.zeros(3), 1.0)


def test_axial_invariants_are_rotation_and_reflection_invariant():
    x = torch.randn(20, 3, generator=_gen(), dtype=torch.float64)
    n = fibonacci_sphere(10)
    for q in (random_rotation(_gen(2)), random_reflection(_gen(3))):
        a = axial_invariants(x, n)
        b = axial_invariants(x @ q.T, n @ q.T)
        assert torch.allclose(a, b, atol=1e-12)
    assert torch.allclose(distance(x), distance(x @ random_rotation(_gen(4)).T), atol=1e-12)


def test_axial_invariants_recover_distance():
    x = torch.randn(7, 3, generator=_gen(), dtype=torch.float64)
    a = axial_invariants(x, fibonacci_sphere(5))
    assert torch.allclose(a.pow(2).sum(-1), x.pow(2).sum(-1, keepdim=True).expand(-1, 5), atol=1e-12)


def test_axial_invariants_degenerate_case_along_axis_is_finite():
    n = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    x = torch.tensor([[0.0, 0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    a = axial_invariants(x, n)
    assert a[0, 0, 0] == 2.0 and a[0, 0, 1] == 0.0
    a[..., 0].sum().backward()
    assert torch.isfinite(x.grad).all()


def test_full_invariants_signed_azimuth_is_chiral():
    x = torch.randn(15, 3, generator=_gen(5), dtype=torch.float64)
    n = fibonacci_sphere(6)
    r, q = random_rotation(_gen(6)), random_reflection(_gen(7))
    chiral = full_r3s2_invariants(x, n, chiral=True)
    assert torch.allclose(chiral, full_r3s2_invariants(x @ r.T, n @ r.T, chiral=True), atol=1e-12)
    mirrored = full_r3s2_invariants(x @ q.T, n @ q.T, chiral=True)
    assert torch.allclose(chiral[..., :4], mirrored[..., :4], atol=1e-12)
    assert torch.allclose(chiral[..., 4], -mirrored[..., 4], atol=1e-12)
    achiral = full_r3s2_invariants(x, n, chiral=False)
    assert torch.allclose(achiral, full_r3s2_invariants(x @ q.T, n @ q.T, chiral=False), atol=1e-12)


def test_full_invariants_azimuth_pair_has_radius_a2_times_sine():
    x = torch.randn(9, 3, generator=_gen(8), dtype=torch.float64)
    n = fibonacci_sphere(4)
    inv = full_r3s2_invariants(x, n, chiral=True)
    a2, a3, c, s = inv[..., 1], inv[..., 2], inv[..., 3], inv[..., 4]
    assert torch.allclose(c.pow(2) + s.pow(2), a2.pow(2) * (1 - a3.pow(2)), atol=1e-12)


def test_frame_invariants_are_invariant_under_left_rotation():
    x = torch.randn(11, 3, generator=_gen(9), dtype=torch.float64)
    frames = rotation_group("octahedral")
    r = random_rotation(_gen(10))
    assert torch.allclose(frame_invariants(x, frames), frame_invariants(x @ r.T, r @ frames), atol=1e-12)
    assert torch.allclose(relative_frames(frames), relative_frames(r @ frames), atol=1e-12)
    assert torch.allclose(sphere_invariants(fibonacci_sphere(7)), sphere_invariants(fibonacci_sphere(7) @ r.T), atol=1e-12)
