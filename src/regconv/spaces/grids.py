"""Deterministic fibre grids: orientations on S^2 and rotations on SO(3).

Every grid is a pure function of its size, so a model built twice has the same grid; models
store it as a buffer so that it also travels in ``state_dict``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def fibonacci_sphere(num: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``num`` near-uniform unit vectors on S^2 (Fibonacci lattice), ``[O, 3]``.

    Point ``k`` has height ``z_k = 1 - (2k + 1)/num`` and azimuth ``k * golden_angle``.
    """
    if num < 1:
        raise ValueError(f"a sphere grid needs at least 1 orientation, got {num}")
    k = torch.arange(num, dtype=torch.float64)
    z = 1.0 - (2.0 * k + 1.0) / num
    r = torch.sqrt((1.0 - z * z).clamp_min(0.0))
    golden = math.pi * (3.0 - math.sqrt(5.0))
    phi = k * golden
    grid = torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=-1)
    grid = grid / torch.linalg.vector_norm(grid, dim=-1, keepdim=True)
    return grid.to(dtype)


def _closure(generators: list[Tensor]) -> Tensor:
    """All products of the generators (a finite rotation group), in a deterministic order."""
    eye = torch.eye(3, dtype=torch.float64)
    elements = [eye]
    keys = {tuple(torch.round(eye * 1e6).long().flatten().tolist())}
    frontier = [eye]
    while frontier:
        new = []
        for g in frontier:
            for h in generators:
                p = g @ h
                key = tuple(torch.round(p * 1e6).long().flatten().tolist())
                if key not in keys:
                    keys.add(key)
                    elements.append(p)
                    new.append(p)
        frontier = new
    group = torch.stack(elements)
    u, _, vh = torch.linalg.svd(group)  # snap accumulated round-off back onto SO(3)
    return u @ vh


def _axis_rotation(axis: tuple[float, float, float], angle: float) -> Tensor:
    a = torch.tensor(axis, dtype=torch.float64)
    a = a / torch.linalg.vector_norm(a)
    k = torch.tensor(
        [[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]], dtype=torch.float64
    )
    return torch.eye(3, dtype=torch.float64) + math.sin(angle) * k + (1 - math.cos(angle)) * k @ k


_GROUP_SIZES = {"tetrahedral": 12, "octahedral": 24, "icosahedral": 60}


def rotation_group(name: str, dtype: torch.dtype = torch.float64) -> Tensor:
    """The rotations of a finite subgroup of SO(3) as ``[O, 3, 3]`` (columns = frame axes).

    ``tetrahedral`` (12), ``octahedral`` (24) or ``icosahedral`` (60). A model whose fibre is such
    a group is exactly invariant to the rotations of the group, approximately to the others.
    """
    phi = (1.0 + math.sqrt(5.0)) / 2.0
    if name == "tetrahedral":
        gens = [_axis_rotation((0, 0, 1), math.pi), _axis_rotation((1, 1, 1), 2 * math.pi / 3)]
    elif name == "octahedral":
        gens = [_axis_rotation((0, 0, 1), math.pi / 2), _axis_rotation((1, 1, 1), 2 * math.pi / 3)]
    elif name == "icosahedral":
        gens = [
            _axis_rotation((0, 1, phi), 2 * math.pi / 5),
            _axis_rotation((1, 1, 1), 2 * math.pi / 3),
        ]
    else:
        raise ValueError(f"unknown rotation group {name!r}; choose one of {sorted(_GROUP_SIZES)}")
    group = _closure(gens)
    if group.shape[0] != _GROUP_SIZES[name]:  # pragma: no cover - guards the generators above
        raise RuntimeError(f"{name} closure has {group.shape[0]} elements")
    return group.to(dtype)
