"""Shifted softplus, SchNet's activation: ``ssp(x) = softplus(x) - log 2`` (so ``ssp(0) = 0``)."""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn


class ShiftedSoftplus(nn.Module):
    r""":math:`\mathrm{ssp}(x) = \log(1 + e^x) - \log 2`: smooth, ``ssp(0) = 0``, slope 1/2 at 0.

    Shapes:
        ``[*] -> [*]``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.shift = math.log(2.0)

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x) - self.shift
