r"""Kernel bases: the invariants of a pair -> a ``K``-dimensional basis shared by every layer.

:class:`PolynomialFeatures` (all monomials up to a degree), optionally beside Gaussians of the
pair distance, followed by a two-layer GELU MLP
(:class:`KernelBasis`); each layer maps the basis linearly to its channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations_with_replacement

import torch
from torch import Tensor, nn

from regconv.kernels.radial import GaussianRBF
from regconv.ops import gelu_mlp2
from regconv.utils.checks import check_int


class PolynomialFeatures(nn.Module):
    r"""All monomials of the ``D`` input invariants of degree ``1..degree``.

    ``[a, b]`` with degree 2 gives ``[a, b, a^2, a b, b^2]``. The monomial exponents are a fixed
    index buffer, so the map is deterministic and part of ``state_dict``.

    Shapes:
        ``[*, D] -> [*, P]`` with ``P = C(D + degree, degree) - 1``.
    """

    def __init__(self, in_dim: int, degree: int) -> None:
        super().__init__()
        if in_dim < 1 or degree < 1:
            raise ValueError(
                f"PolynomialFeatures needs in_dim >= 1 and degree >= 1, got {in_dim}, {degree}"
            )
        terms = []
        for d in range(1, degree + 1):
            terms.extend(combinations_with_replacement(range(in_dim), d))
        # Pad every term to `degree` factors with the index `in_dim`: a column of 1s.
        padded = [list(t) + [in_dim] * (degree - len(t)) for t in terms]
        self.register_buffer("terms", torch.tensor(padded, dtype=torch.long), persistent=False)
        self.in_dim = in_dim
        self.out_dim = len(terms)

    def forward(self, x: Tensor) -> Tensor:
        ones = torch.ones_like(x[..., :1])
        ext = torch.cat([x, ones], dim=-1)  # [*, D + 1]
        factors = ext[..., self.terms]  # [*, P, degree]
        return factors.prod(dim=-1)


class KernelBasis(nn.Module):
    r"""Invariants -> a ``K``-dimensional kernel basis: polynomial features, then an MLP.

    :math:`b(a) = \sigma(W_2\, \sigma(W_1\, \mathrm{poly}(a) + c_1) + c_2)`; with ``radial = R > 0``
    the features also hold ``R`` Gaussians of ``d = |a_{1..m}|`` over ``[0, radial_range]``
    (:class:`regconv.kernels.GaussianRBF`), the norm of the first ``m = radial_dims``
    invariants: the pair distance when those are the coordinates of ``x_ij`` in a frame of the
    receiving point, as the spatial invariants of every
    :class:`regconv.spaces.FibreSpace` are. A bond length is then resolved directly, as by
    SchNet's radial basis, rather than built by the MLP from per-axis features (on R^3 x S^2 a
    shell ``|x_ij| = d`` is a circle in the plane of the two axial invariants). Computed once per
    forward pass and shared by every layer, each of which maps it linearly to its channels.

    With ``distance_features`` (:class:`regconv.kernels.pair_features.DistanceFeature`), the
    features of the distance ``distance_scale * |a_{1..m}|`` (in the units of ``pos``) are
    appended to the invariants before the monomials, in their order: the same kernel as when
    they come with the invariants (``in_dim`` counts them), evaluated wherever the basis is, at a
    table's nodes included.

    When the invariants need no gradient (no forces), the MLP runs chunked and recomputes its
    hidden activations in the backward pass (:func:`regconv.ops.gelu_mlp2`: same
    arithmetic, only the input is stored), which keeps ``E O x K`` intermediates out of memory;
    set ``fused = False`` (an attribute, not saved) for the layer-by-layer evaluation.

    Shapes:
        ``[*, D] -> [*, K]``.
    """

    def __init__(
        self,
        in_dim: int,
        basis_dim: int,
        degree: int = 3,
        hidden: int | None = None,
        *,
        radial: int = 0,
        radial_dims: int | None = None,
        radial_range: float = 1.0,
        distance_features: Sequence[nn.Module] = (),
        distance_scale: float = 1.0,
    ) -> None:
        super().__init__()
        radial = check_int("radial", radial, minimum=0)
        radial_dims = in_dim if radial_dims is None else radial_dims
        if not 1 <= radial_dims <= in_dim:
            raise ValueError(f"radial_dims must be in 1..{in_dim} (the inputs), got {radial_dims}")
        self.poly = PolynomialFeatures(in_dim, degree)
        # Gaussians of the distance over [0, range]
        self.radial = GaussianRBF(radial, float(radial_range)) if radial else None
        self.radial_dims = radial_dims
        # parameter-free modules a model owns (in its pair features): a plain tuple, not children
        self.distance_features = tuple(distance_features)
        self.distance_scale = float(distance_scale)
        width = self.poly.out_dim + radial
        hidden = hidden or basis_dim
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden),
            nn.GELU(),
            nn.Linear(hidden, basis_dim),
            nn.GELU(),
        )
        self.out_dim = basis_dim

    fused: bool = True

    def forward(self, invariants: Tensor) -> Tensor:
        if self.distance_features:
            d = torch.linalg.vector_norm(invariants[..., : self.radial_dims], dim=-1, keepdim=True)
            d = d * self.distance_scale  # [*, 1] in the units of pos
            extra = [f.of_distance(d) for f in self.distance_features]  # [*, S_k]
            invariants = torch.cat([invariants, *extra], dim=-1)
        feats = self.poly(invariants)  # [*, P]
        if self.radial is not None:
            d = torch.linalg.vector_norm(invariants[..., : self.radial_dims], dim=-1)  # [*]
            feats = torch.cat([feats, self.radial(d)], dim=-1)  # [*, P + R]
        if self.fused and not feats.requires_grad:
            lin1, lin2 = self.mlp[0], self.mlp[2]
            flat = feats.reshape(-1, feats.shape[-1])
            out = gelu_mlp2(flat, lin1.weight, lin1.bias, lin2.weight, lin2.bias)
            return out.view(*feats.shape[:-1], out.shape[-1])
        return self.mlp(feats)
