r"""Smooth cutoff envelopes: kernels go to zero at the cutoff so a radius graph is continuous.

An envelope ``u(d)`` multiplies every message (or kernel) of an edge of length ``d``. How smooth
it is at the cutoff ``r_c`` decides how smooth the energy is as a neighbour crosses ``r_c``:

==================  ============================  =========================================
kind                ``u`` at the cutoff           smoothness of the energy
==================  ============================  =========================================
``"cosine"``        value, slope 0; curvature     C¹: forces continuous, their derivatives
                    jumps by ``(pi / r_c)^2 / 2``  jump as an atom crosses the cutoff
``"tapered"``       value, slope, curvature 0     C²: forces continuously differentiable
==================  ============================  =========================================

A model option ``envelope`` is None (the cosine), an :class:`Envelope` with the model's cutoff,
or a mapping ``{"kind": "tapered", "tail": 0.5}`` (``kind`` defaults to ``"cosine"``); the
cutoff itself is the model's ``cutoff`` option (:func:`build_envelope`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from regconv.utils.checks import check_positive
from regconv.utils.components import build_component

__all__ = ["ENVELOPES", "CosineCutoff", "Envelope", "TaperedCosineCutoff", "build_envelope"]


class Envelope(nn.Module):
    """Base of the cutoff envelopes: ``u(d)``, 1 near 0 and 0 from ``cutoff`` on. The cutoff is a
    buffer (saved in ``state_dict``).

    Shapes:
        ``[*] -> [*]``.
    """

    def __init__(self, cutoff: float) -> None:
        super().__init__()
        if not (cutoff > 0 and math.isfinite(cutoff)):
            raise ValueError(f"cutoff must be finite and positive, got {cutoff}")
        self.register_buffer("cutoff", torch.tensor(float(cutoff)))


class CosineCutoff(Envelope):
    r"""``u(d) = (cos(pi d / r_c) + 1) / 2`` for ``d < r_c``, else 0.

    Value and slope vanish at ``r_c``, the curvature does not (it jumps from ``(pi / r_c)^2 / 2``
    to 0): a model's energy is C¹ as a neighbour crosses the cutoff.

    Shapes:
        ``[*] -> [*]``.
    """

    def forward(self, d: Tensor) -> Tensor:
        u = 0.5 * (torch.cos(math.pi * d / self.cutoff) + 1.0)
        return torch.where(d < self.cutoff, u, torch.zeros_like(u))


class TaperedCosineCutoff(CosineCutoff):
    r"""The cosine cutoff tapered to zero over its last ``tail`` (in the units of ``d``):

    .. math::
        u(d) = \tfrac12\,(\cos(\pi d / r_c) + 1)\,(1 - s(x)), \qquad
        x = \mathrm{clamp}\big((d - r_c + t) / t,\ 0,\ 1\big),

    with the quintic smoothstep ``s(x) = 10x^3 - 15x^4 + 6x^5`` (``s``, ``s'``, ``s''`` are 0 at
    ``x = 0`` and ``s = 1``, ``s' = s'' = 0`` at ``x = 1``). Value and first four derivatives
    vanish at ``r_c``; at ``r_c - t`` the third derivative jumps (by ``60 u / t^3``), so ``u`` is
    C² everywhere and a model's energy is C² as a neighbour crosses the cutoff (forces
    continuously differentiable, what velocity Verlet's energy conservation relies on). Equal to
    :class:`CosineCutoff` below ``r_c - t``.

    Shapes:
        ``[*] -> [*]``.
    """

    def __init__(self, cutoff: float, tail: float = 0.5) -> None:
        super().__init__(cutoff)
        self.tail = check_positive("envelope.tail", tail)
        if not self.tail <= float(cutoff):
            raise ValueError(f"envelope.tail must be at most the cutoff {cutoff}, got {tail}")

    def extra_repr(self) -> str:
        return f"tail={self.tail}"

    def forward(self, d: Tensor) -> Tensor:
        x = ((d - (self.cutoff - self.tail)) / self.tail).clamp(0.0, 1.0)
        return super().forward(d) * (1.0 - x**3 * (10.0 + x * (6.0 * x - 15.0)))


#: the envelope kinds of a model's ``envelope`` option
ENVELOPES: dict[str, type[Envelope]] = {"cosine": CosineCutoff, "tapered": TaperedCosineCutoff}


def build_envelope(
    spec: Envelope | Mapping[str, Any] | None, cutoff: float | None
) -> Envelope | None:
    """The envelope of a model with radius-graph cutoff ``cutoff``: None when ``cutoff`` is None
    (fully connected graphs), else ``spec`` built with that cutoff (None: the cosine).

    ``ValueError`` when ``spec`` names its own cutoff, an instance's cutoff differs from the
    model's, or an envelope is given without a cutoff.
    """
    if cutoff is None:
        if spec is not None:
            raise ValueError("envelope needs a cutoff (the model's cutoff is None)")
        return None
    if spec is None:
        return CosineCutoff(cutoff)
    if isinstance(spec, Envelope):
        if float(spec.cutoff) != float(cutoff):
            raise ValueError(
                f"envelope's cutoff {float(spec.cutoff)} differs from the model's cutoff {cutoff}"
            )
        return spec
    if isinstance(spec, Mapping) and "cutoff" in spec:
        raise ValueError("envelope takes no 'cutoff': the model's cutoff option sets it")
    full = {**spec, "cutoff": cutoff} if isinstance(spec, Mapping) else spec
    return build_component("envelope", full, ENVELOPES, Envelope, default="cosine")
