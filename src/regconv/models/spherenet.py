"""``spherenet``: spherical message passing (SphereNet, Liu et al. 2022): DimeNet plus torsion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from regconv.kernels import Envelope, TorsionBasis
from regconv.models.contract import Output
from regconv.models.directional_net import DirectionalNet


def reference_edges(
    edge_index: Tensor,
    length: Tensor,
    num_nodes: int,
    tie_tolerance: float,
    shift: Tensor | None = None,
) -> Tensor:
    r"""For every edge ``b = (j -> i)``, the edge ``(r -> i)`` from the nearest other neighbour
    ``r != j`` of ``i``; ``-1`` where ``i`` has no other neighbour. In a periodic graph
    (``shift [E, 3]``, the lattice shift of each edge) a neighbour is an image ``(r, S)``, and
    another image of ``j`` is another neighbour.

    Ties: every candidate within ``d_min (1 + tie_tolerance)`` counts as nearest, and the one with
    the smallest node index ``r`` wins (then the smallest edge id). Exact ties (symmetric
    molecules) thus give the same choice after a rotation, whose rounding moves distances by
    ~1e-16 relative.

    Shapes:
        edge_index ``[2, E]``; length ``[E]``; shift ``[E, 3]`` -> ``[E]`` long.
    """
    src, dst = edge_index[0], edge_index[1]
    num_e = src.shape[0]
    device = src.device
    if num_e == 0:
        return torch.empty(0, dtype=torch.long, device=device)
    incoming = torch.sort(dst, stable=True).indices  # [E], edges grouped by destination
    in_degree = torch.bincount(dst, minlength=num_nodes)  # [N]
    in_start = torch.cumsum(in_degree, 0) - in_degree  # [N]
    count = in_degree.index_select(0, dst)  # [E] candidates of each edge b
    total = int(count.sum())
    b = torch.repeat_interleave(torch.arange(num_e, device=device), count, output_size=total)
    first = torch.cumsum(count, 0) - count
    slot = torch.arange(total, device=device) - first.index_select(0, b)
    cand = incoming.index_select(0, in_start.index_select(0, dst.index_select(0, b)) + slot)
    keep = src.index_select(0, cand) != src.index_select(0, b)
    if shift is not None:
        keep |= (shift.index_select(0, cand) != shift.index_select(0, b)).any(dim=1)
    b, cand = b[keep], cand[keep]
    d = length.index_select(0, cand)
    d_min = torch.full((num_e,), float("inf"), dtype=d.dtype, device=device)
    d_min = d_min.scatter_reduce(0, b, d, reduce="amin", include_self=True)
    tie = d <= d_min.index_select(0, b) * (1.0 + tie_tolerance)
    b, cand = b[tie], cand[tie]
    key = src.index_select(0, cand) * num_e + cand  # smallest node index, then edge id
    none = num_nodes * num_e
    best = torch.full((num_e,), none, dtype=torch.long, device=device)
    best = best.scatter_reduce(0, b, key, reduce="amin", include_self=True)
    return torch.where(best == none, torch.full_like(best, -1), best % num_e)


def torsion_cos_sin(n_a: Tensor, n_b: Tensor, n_r: Tensor) -> tuple[Tensor, Tensor]:
    r"""Weighted cosine and sine of the torsion of ``k -> j -> i`` about the axis ``j -> i``,
    against the reference ``r -> i``.

    With unit directions ``n_a`` (of ``k -> j``), ``n_b`` (of ``j -> i``, the axis) and ``n_r``
    (of ``r -> i``): ``c = (n_a ⊥ n_b) . (n_r ⊥ n_b)``, ``s = n_b . (n_a x n_r)``. Since
    ``x_k - x_j = -|.| n_a`` and ``x_r - x_i = -|.| n_r``, ``(c, s) = sin(t1) sin(t2) (cos, sin)``
    of the dihedral between the planes ``(k, j, i)`` and ``(j, i, r)``, with ``t1, t2`` the angles
    of ``k`` and ``r`` to the axis: both vanish smoothly where a plane is undefined (collinear
    atoms). ``s`` is a pseudo-scalar (changes sign under reflections).

    Shapes:
        ``[T, 3]`` each -> (``[T]``, ``[T]``).
    """
    a_perp = n_a - (n_a * n_b).sum(-1, keepdim=True) * n_b
    r_perp = n_r - (n_r * n_b).sum(-1, keepdim=True) * n_b
    c = (a_perp * r_perp).sum(-1)
    s = (n_b * torch.linalg.cross(n_a, n_r, dim=-1)).sum(-1)
    return c, s


class SphereNet(DirectionalNet):
    r"""SphereNet with regconv's layers: :class:`regconv.models.DimeNet` plus the torsion.

    - **Space**: R^3 x S^2 edge cloud, as ``dimenet``. The torsion is the azimuth ``a4`` of
      ``R^3 x S^2`` that a pair of edges sharing an atom lacks (their relative position is parallel
      to the sender's orientation): it needs a third edge, the *reference* ``r -> i``.
    - **Kernel**: non-linear in the features (DimeNet++'s Hadamard interaction), same layers as
      ``dimenet``.
    - **Conditions on**: for the message from ``a = (k -> j)`` to ``b = (j -> i)``: Bessel
      ``e_n(d_kj)`` ⊗ Legendre ``P_l(cos angle_kji)`` ⊗ torsion Fourier features
      ``[1, Re z^m, Im z^m]_{m=1..M}`` with ``z = c + i s`` from :func:`torsion_cos_sin`: the
      dihedral between the planes ``(k, j, i)`` and ``(j, i, r)``, where ``r`` is the nearest
      neighbour of ``i`` other than ``j`` (:func:`reference_edges`).
    - **Degenerate cases**: ``i`` has no neighbour besides ``j``: torsion features 0 (only the
      constant 1 remains); ``k, j, i`` or ``j, i, r`` collinear: ``c = s = 0`` smoothly (the weight
      ``sin t1 sin t2`` vanishes). With a cutoff, ``(c, s)`` are also multiplied by the envelope
      of ``d_ir``, so that a reference entering the cutoff fades in continuously. Distances tied within ``tie_tolerance`` (relative): the smallest
      node index wins, so exact ties (symmetric molecules) give the same reference after a rotation.
      The reference changes discontinuously when two neighbours swap order (as in SphereNet); for
      exactly tied neighbours of different elements, permuting the atoms can change the choice.
    - **Chirality**: ``s`` flips sign under reflections. ``chiral=False`` (default) uses ``|s|``:
      E(3)-invariant. ``chiral=True`` keeps the sign: SE(3)-invariant, tells mirror images apart.

    Differences from the paper: SphereNet's basis is spherical Bessel x spherical harmonics
    ``Y_l^m(angle, torsion)``, here a plain product of Bessel, Legendre and Fourier features of
    the weighted torsion; SphereNet picks the reference by its own rule within a local frame and
    also updates node and graph features; here the body is exactly ``dimenet``'s.

    Args:
        num_torsion: torsion harmonics ``M``.
        chiral: keep the sign of the torsion sine (SE(3) instead of E(3)).
        tie_tolerance: relative tolerance under which neighbour distances count as tied.
        Others as :class:`regconv.models.DimeNet`.
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        *,
        hidden: int = 128,
        layers: int = 4,
        int_channels: int | None = None,
        num_radial: int = 6,
        num_spherical: int = 7,
        num_torsion: int = 1,
        chiral: bool = False,
        tie_tolerance: float = 1e-5,
        cutoff: float | None = 5.0,
        envelope: Envelope | Mapping[str, Any] | None = None,
        max_z: int = 9,
        output_block: str = "edge",
        out_channels: int | None = None,
    ) -> None:
        if not (0.0 <= tie_tolerance < 1.0):
            raise ValueError(f"tie_tolerance must lie in [0, 1), got {tie_tolerance}")
        super().__init__(
            num_outputs=num_outputs, output=output, in_features=in_features, vector_in=vector_in,
            hidden=hidden, layers=layers, int_channels=int_channels, num_radial=num_radial,
            num_spherical=num_spherical, cutoff=cutoff, envelope=envelope, max_z=max_z,
            torsion=TorsionBasis(num_torsion, chiral),
            output_block=output_block, out_channels=out_channels,
        )
        self.chiral = bool(chiral)
        self.tie_tolerance = float(tie_tolerance)

    def _torsion_features(
        self,
        edge_index: Tensor,
        pairs: Tensor,
        n: Tensor,
        length: Tensor,
        num_nodes: int,
        shift: Tensor | None,
    ) -> Tensor:
        ref = reference_edges(edge_index, length[:, 0], num_nodes, self.tie_tolerance, shift)
        a, b = pairs[0], pairs[1]
        r = ref.index_select(0, b)  # [T]
        has_ref = r >= 0
        n_r = n.index_select(0, r.clamp_min(0))
        c, s = torsion_cos_sin(n.index_select(0, a), n.index_select(0, b), n_r)
        weight = has_ref.to(c.dtype)
        if self.envelope is not None:
            # A reference that just entered the cutoff (i had no other neighbour) fades in.
            weight = weight * self.envelope(length.index_select(0, r.clamp_min(0))[:, 0])
        return self.torsion(c * weight, s * weight)  # [T, 1 + 2M]
