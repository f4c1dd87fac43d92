r"""Legendre polynomials of a cosine: the angular basis of DimeNet-style triplet kernels.

``P_0 .. P_{L-1}`` evaluated on ``x = cos(theta)`` by the three-term recurrence
``(l + 1) P_{l+1} = (2l + 1) x P_l - l P_{l-1}``. They are the ``m = 0`` spherical harmonics up
to normalisation, i.e. the functions of one angle that a rotation-invariant kernel can use.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LegendreBasis(nn.Module):
    r"""``x -> [P_0(x), ..., P_{num-1}(x)]``.

    Shapes:
        ``[*] -> [*, num]``.
    """

    def __init__(self, num: int) -> None:
        super().__init__()
        if isinstance(num, bool) or not isinstance(num, int) or num < 1:
            raise ValueError(f"LegendreBasis needs an integer num >= 1, got {num!r}")
        self.out_dim = num

    def forward(self, x: Tensor) -> Tensor:
        polys = [torch.ones_like(x)]
        if self.out_dim > 1:
            polys.append(x)
        for l in range(1, self.out_dim - 1):
            polys.append(((2 * l + 1) * x * polys[l] - l * polys[l - 1]) / (l + 1))
        return torch.stack(polys, dim=-1)
