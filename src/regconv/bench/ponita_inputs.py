"""What both PONITA references (:mod:`.ponita_pyg`, :mod:`.ponita_torch`) take from a regconv
QM9 batch: the one-hot of H, C, N, O, F (their QM9 features), and a first call on a probe that
gives their lazy layers their shapes without calibrating them."""

from __future__ import annotations

import types

import torch
from torch import Tensor, nn

__all__ = ["ELEMENT_SLOT", "ElementOneHot", "take_shapes"]

#: PONITA's QM9 features: a one-hot of these elements, in this order
ELEMENT_SLOT = {1: 0, 6: 1, 7: 2, 8: 3, 9: 4}


class ElementOneHot(nn.Module):
    """``z [N]`` -> ``x [N, width]``: the one-hot of the element in the first five channels.

    Shapes:
        - input: ``z [N]`` long
        - output: ``[N, width]`` in ``dtype``
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = int(width)
        lut = torch.full((max(ELEMENT_SLOT) + 1,), -1, dtype=torch.long)
        for z, slot in ELEMENT_SLOT.items():
            lut[z] = slot
        self.register_buffer("slot_of_z", lut, persistent=False)

    def forward(self, z: Tensor, dtype: torch.dtype) -> Tensor:
        known = (z >= 0) & (z < self.slot_of_z.numel())
        if not bool(known.all()) or bool((self.slot_of_z[z[known]] < 0).any()):
            raise ValueError("PONITA's QM9 features know only the elements H, C, N, O, F")
        x = torch.zeros(z.shape[0], self.width, dtype=dtype, device=z.device)
        x[torch.arange(z.shape[0], device=z.device), self.slot_of_z[z]] = 1.0
        return x  # [N, width]


def take_shapes(reference: nn.Module, model: nn.Module) -> None:
    """Call ``reference`` once on a three-atom probe with ``model`` (the wrapped implementation)
    in eval mode: its ``LazyLinear`` layers take their shapes, and its convolutions, which
    rescale their weights on the first call in training mode, are left to do so on real data."""
    probe = types.SimpleNamespace(
        z=torch.tensor([6, 1, 8]), pos=torch.randn(3, 3), batch=torch.zeros(3, dtype=torch.long)
    )
    with torch.no_grad():
        model.eval()
        reference(probe)
        model.train()
