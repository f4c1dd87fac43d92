r"""``r3s2-attention``: group self-attention on R^3 x S^2, grid fibre (LieTransformer class).

The ``r3s2`` network (:class:`regconv.models.FibreNet` on :class:`regconv.spaces.R3S2`) with
attention convolutions (:class:`regconv.nn.AttentionGroupConv`, ``block={"kind": "attention",
"heads": H}``) inside its ConvNeXt blocks; grid-approximate as ``r3s2``.

- **Kernel**: non-linear in the features: the spatial weights are attention coefficients
  ``softmax_j(q_{i,o} . k_{j,o} / sqrt(C/H) + B(b_{ij,o}) + log u_ij)`` normalised per
  receiving point and orientation; values ``f_{j,o} ⊙ k^sp(b_{ij,o})``; then the separable
  fibre step on ``n_o . n_p``.
- **Conditions on**: the separable invariants (through the shared kernel basis, in the logits
  and the values), the features (``q``, ``k``), ``n_o . n_p`` on the fibre, and the cutoff
  envelope ``u`` as an edge weight when ``cutoff`` is set.

Differences from LieTransformer: a fixed orientation grid rather than sampled group elements;
attention within each orientation followed by a learned fibre convolution; dot-product plus
location-bias logits with softmax normalisation; ConvNeXt blocks around the layer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULTS"]

#: ``r3s2-attention``'s options that differ from :class:`regconv.models.FibreNet`'s defaults
DEFAULTS: dict[str, Any] = {
    "space": {"kind": "r3s2", "num_orientations": 16},
    "cutoff": None,
    "block": {"kind": "attention", "heads": 4},
}
