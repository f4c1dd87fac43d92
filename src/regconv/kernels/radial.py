r"""Radial basis expansions of distances (fixed, not learned; their constants are buffers).

- :class:`GaussianRBF` (SchNet): ``exp(-(d - mu_k)^2 / (2 w^2))`` on evenly spaced centres.
- :class:`BesselRBF` (DimeNet): ``sqrt(2/c) sin(n pi d / c) / d``, the zeroth-order spherical
  Bessel functions with a node at ``d = c``; finite at ``d = 0`` (computed through ``sinc``).

Neither applies a cutoff envelope; models multiply by :class:`regconv.kernels.CosineCutoff` where
they use a radius graph.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def _check_range(num: int, stop: float) -> None:
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"a radial basis needs an integer num >= 1, got {num!r}")
    if not (stop > 0 and math.isfinite(stop)):
        raise ValueError(f"the radial basis range must be finite and positive, got {stop}")


class GaussianRBF(nn.Module):
    r"""Gaussians on ``num`` centres evenly spaced over ``[0, stop]``:

    .. math:: e_k(d) = \exp\!\big(\max(-\tfrac{(d - \mu_k)^2}{2 w^2}, -30)\big), \qquad
        \mu_k = k\, \tfrac{stop}{num - 1},\quad w = \text{width or the spacing}.

    (The floor ``e^{-30}`` keeps far tails out of float32's denormal range, which is slow.)

    Shapes:
        ``[*] -> [*, num]``.
    """

    def __init__(self, num: int, stop: float, width: float | None = None) -> None:
        super().__init__()
        _check_range(num, stop)
        centres = torch.linspace(0.0, float(stop), num, dtype=torch.float64)
        spacing = float(stop) / max(num - 1, 1)
        width = spacing if width is None else float(width)
        if not (width > 0 and math.isfinite(width)):
            raise ValueError(f"width must be finite and positive, got {width}")
        self.register_buffer("centres", centres.to(torch.get_default_dtype()))
        self.register_buffer("coeff", torch.tensor(-0.5 / width**2))
        self.out_dim = num

    def forward(self, d: Tensor) -> Tensor:
        # Exponents below -30 are clamped (values ~1e-13 instead of 0): an underflow into
        # float32 denormals slows every later product that reads them several-fold on x86.
        return torch.exp((self.coeff * (d.unsqueeze(-1) - self.centres) ** 2).clamp_min(-30.0))


class BesselRBF(nn.Module):
    r"""``num`` zeroth-order spherical Bessel functions with a node at ``stop``:

    .. math:: e_n(d) = \sqrt{2/c}\; \frac{\sin(n \pi d / c)}{d}
        = \sqrt{2/c}\; \frac{n\pi}{c}\, \mathrm{sinc}(n d / c), \qquad n = 1..num.

    Shapes:
        ``[*] -> [*, num]``.
    """

    def __init__(self, num: int, stop: float) -> None:
        super().__init__()
        _check_range(num, stop)
        self.register_buffer(
            "freq", torch.arange(1, num + 1, dtype=torch.get_default_dtype()) / float(stop)
        )
        self.register_buffer("norm", torch.tensor(math.sqrt(2.0 / float(stop))))
        self.out_dim = num

    def forward(self, d: Tensor) -> Tensor:
        x = d.unsqueeze(-1) * self.freq  # n d / c
        return self.norm * math.pi * self.freq * torch.sinc(x)
