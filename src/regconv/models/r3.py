r"""``r3``: regular group convolutions on R^3 (atoms as points; SchNet/EGNN class).

:class:`regconv.models.FibreNet` on :class:`regconv.spaces.R3`: continuous-filter group
convolutions conditioned on ``|x_ij|`` inside ConvNeXt blocks (non-linear in the features
through the blocks' MLPs). The invariant is complete, so the model is exactly E(3)-invariant /
equivariant. Vector inputs enter through their norms; vector outputs are built from the edge
vectors and the input vectors (:class:`regconv.nn.EdgeVectorReadout`), exactly E(3)-equivariant.
A table (``table={"step": ...}``) interpolates the kernel over ``|x_ij|``.

Its defaults are :class:`regconv.models.FibreNet`'s (radius graph of 5, exact kernel) with this
space.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULTS"]

#: ``r3``'s options that differ from :class:`regconv.models.FibreNet`'s defaults
DEFAULTS: dict[str, Any] = {"space": {"kind": "r3"}}
