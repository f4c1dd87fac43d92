r"""Fourier features of a torsion (dihedral) angle given as a weighted ``(cos, sin)`` pair.

The input is ``c = w cos(phi)``, ``s = w sin(phi)`` with a weight ``w in [0, 1]`` that vanishes
where the torsion is undefined (collinear atoms, no reference atom). With ``z = c + i s`` the
``m``-th harmonic is ``z^m = w^m e^{i m phi}``: computed by complex multiplication, no angle and no
division, so the features stay smooth and vanish with ``w``.

``s`` changes sign under a reflection. ``chiral=False`` (E(3)) uses ``|s|`` before taking powers,
so every feature is reflection invariant; ``chiral=True`` (SE(3)) keeps the sign.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class TorsionBasis(nn.Module):
    r"""``(c, s) -> [1, Re z, Im z, ..., Re z^M, Im z^M]`` with ``z = c + i s`` (``|s|`` if not
    chiral).

    Shapes:
        c ``[*]``, s ``[*]`` -> ``[*, 1 + 2 M]``.
    """

    def __init__(self, num_harmonics: int, chiral: bool = False) -> None:
        super().__init__()
        if isinstance(num_harmonics, bool) or not isinstance(num_harmonics, int) \
                or num_harmonics < 0:
            raise ValueError(f"num_harmonics must be an integer >= 0, got {num_harmonics!r}")
        self.num_harmonics = num_harmonics
        self.chiral = bool(chiral)
        self.out_dim = 1 + 2 * num_harmonics

    def forward(self, c: Tensor, s: Tensor) -> Tensor:
        if not self.chiral:
            s = s.abs()
        feats = [torch.ones_like(c)]
        re, im = torch.ones_like(c), torch.zeros_like(c)
        for _ in range(self.num_harmonics):
            re, im = re * c - im * s, re * s + im * c
            feats.extend([re, im])
        return torch.stack(feats, dim=-1)
