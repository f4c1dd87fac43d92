r"""Invariants of pairs of points of the homogeneous spaces of SE(3) (pure functions).

All functions take the relative position ``x_ij = x_j - x_i`` (from the receiving point ``i`` to
the sending point ``j``) and the orientations attached to the points, and return quantities that
are unchanged when the same rotation (and translation) acts on both points.

==========================  ==============================================  ====================
space                       invariants of a pair                             complete?
==========================  ==============================================  ====================
R^3                         ``|x_ij|``                                       yes (E(3) and SE(3))
R^3 x S^2 (separable)       ``n_i.x_ij``, ``|x_ij - (n_i.x_ij) n_i|``;        no: azimuth missing
                            ``n_o.n_o'`` on the fibre
R^3 x S^2 (full)            the above plus ``n_i.n_j``, ``c``, ``s``          yes (``s`` signed)
SE(3)                       ``R_i^T x_ij``, ``R_i^T R_j``                      yes
==========================  ==============================================  ====================

The azimuth of ``n_j`` about ``n_i`` measured from ``x_ij ⊥ n_i`` is carried by
``c = (x_ij - a1 n_i).n_j`` and ``s = (n_i x x_ij).n_j``: both equal
``a2 |n_j ⊥ n_i| (cos, sin)(azimuth)``, so they vanish smoothly where the azimuth is undefined
(``x_ij ∥ n_i`` or ``n_j ∥ n_i``). ``s`` changes sign under reflections: keep it signed for SE(3)
(chirality-aware), use ``|s|`` for E(3).

Degenerate case of the separable spatial pair: when ``x_ij ∥ n_i`` the distance from the axis is
``a2 = 0`` and its gradient with respect to positions is not defined (the values are).
"""

from __future__ import annotations

import torch
from torch import Tensor


def distance(x_ij: Tensor) -> Tensor:
    """``|x_ij|``. Shapes: ``[E, 3] -> [E, 1]``."""
    return torch.linalg.vector_norm(x_ij, dim=-1, keepdim=True)


def axial_invariants(x_ij: Tensor, n: Tensor) -> Tensor:
    """Separable spatial invariants for every orientation of the receiving point.

    ``a1 = n_o . x_ij`` (signed distance along the axis) and ``a2 = |x_ij - a1 n_o|``
    (distance from the axis).

    Shapes:
        x_ij ``[E, 3]``, n ``[O, 3]`` (unit) -> ``[E, O, 2]``.
    """
    a1 = x_ij @ n.T  # [E, O]
    perp = x_ij.unsqueeze(1) - a1.unsqueeze(-1) * n.unsqueeze(0)  # [E, O, 3]
    a2 = torch.linalg.vector_norm(perp, dim=-1)  # [E, O]
    return torch.stack([a1, a2], dim=-1)


def sphere_invariants(n: Tensor) -> Tensor:
    """Fibre invariant ``n_o . n_o'`` between the orientations of one point.

    Shapes:
        n ``[O, 3]`` -> ``[O, O, 1]``.
    """
    return (n @ n.T).unsqueeze(-1)


def full_r3s2_invariants(x_ij: Tensor, n: Tensor, chiral: bool) -> Tensor:
    """A complete set of invariants for pairs ``((x_i, n_o), (x_j, n_p))`` over a shared grid.

    ``[a1, a2, a3, c, s]`` with ``a1 = n_o.x_ij``, ``a2 = |x_ij ⊥ n_o|``, ``a3 = n_o.n_p``,
    ``c = (x_ij ⊥ n_o).n_p``, ``s = (n_o x x_ij).n_p`` (``|s|`` when ``chiral`` is False).

    Shapes:
        x_ij ``[E, 3]``, n ``[O, 3]`` -> ``[E, O, O, 5]`` (receiving orientation o, sending p).
    """
    num_e, num_o = x_ij.shape[0], n.shape[0]
    a1 = x_ij @ n.T  # [E, O]
    perp = x_ij.unsqueeze(1) - a1.unsqueeze(-1) * n.unsqueeze(0)  # [E, O, 3]
    a2 = torch.linalg.vector_norm(perp, dim=-1)  # [E, O]
    a3 = (n @ n.T).unsqueeze(0).expand(num_e, num_o, num_o)  # [E, O, O]
    c = perp @ n.T  # [E, O, O]
    cross = torch.linalg.cross(n.unsqueeze(0).expand(num_e, -1, -1), x_ij.unsqueeze(1), dim=-1)
    s = cross @ n.T  # [E, O, O]
    if not chiral:
        s = s.abs()
    return torch.stack(
        [
            a1.unsqueeze(-1).expand(-1, -1, num_o),
            a2.unsqueeze(-1).expand(-1, -1, num_o),
            a3,
            c,
            s,
        ],
        dim=-1,
    )


def frame_invariants(x_ij: Tensor, frames: Tensor) -> Tensor:
    """Relative position in each frame of the receiving point: ``R_o^T x_ij``.

    Shapes:
        x_ij ``[E, 3]``, frames ``[O, 3, 3]`` (columns = frame axes) -> ``[E, O, 3]``.
    """
    return torch.einsum("ek,okl->eol", x_ij, frames)


def relative_frames(frames: Tensor) -> Tensor:
    """Relative rotations ``R_o^T R_p`` between the frames of one point, flattened.

    Shapes:
        frames ``[O, 3, 3]`` -> ``[O, O, 9]``.
    """
    rel = torch.einsum("okl,pkm->oplm", frames, frames)  # [O, O, 3, 3]
    return rel.reshape(frames.shape[0], frames.shape[0], 9)


def bond_angle_cosine(n_a: Tensor, n_b: Tensor) -> Tensor:
    """Cosine of the angle between unit directions. Shapes: ``[T, 3], [T, 3] -> [T, 1]``."""
    return (n_a * n_b).sum(-1, keepdim=True)
