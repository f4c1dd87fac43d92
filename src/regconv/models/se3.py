r"""``se3``: regular group convolutions on SE(3) with a finite rotation group as fibre.

:class:`regconv.models.FibreNet` on :class:`regconv.spaces.SE3`: every atom carries the ``O``
frames of a finite rotation group (``group``: ``"tetrahedral"`` 12, ``"octahedral"`` 24,
``"icosahedral"`` 60); features ``[N, O, C]``; separable kernels on ``R_o^T x_ij`` (space) and
``R_o^T R_p`` (fibre). Complete invariants; chiral (SE(3)-, not E(3)-invariant). Exactly
invariant to the rotations of the chosen group, approximately to others (a quadrature over
SO(3)). No table: three spatial invariants are more than a table holds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULTS"]

#: ``se3``'s options that differ from :class:`regconv.models.FibreNet`'s defaults
DEFAULTS: dict[str, Any] = {"space": {"kind": "se3", "group": "octahedral"}}
