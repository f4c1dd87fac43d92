"""Models: one class per architecture and a registry.

>>> from regconv import models
>>> models.available()  # doctest: +SKIP
['r3', 'r3s2', 'r3s2-edge', 'se3']
>>> model = models.create("r3s2", num_outputs=1, hidden=64)  # doctest: +SKIP
"""

from regconv.models.edge_net import EdgeNet
from regconv.models.fibre_net import FibreNet
from regconv.models.r3 import R3Net
from regconv.models.r3s2 import R3S2Net
from regconv.models.registry import available, create, options, register
from regconv.models.se3 import SE3Net

register("r3", R3Net)
register("r3s2", R3S2Net)
register("r3s2-edge", EdgeNet)
register("se3", SE3Net)

__all__ = [
    "EdgeNet",
    "FibreNet",
    "R3Net",
    "R3S2Net",
    "SE3Net",
    "available",
    "create",
    "options",
    "register",
]

# Literature models built from the same layers (issue 7).
from regconv.models.attention import R3S2AttentionNet  # noqa: E402
from regconv.models.dimenet import DimeNet  # noqa: E402
from regconv.models.egnn import EGNN  # noqa: E402
from regconv.models.schnet import SchNet  # noqa: E402
from regconv.models.spherenet import SphereNet  # noqa: E402

register("schnet", SchNet)
register("egnn", EGNN)
register("dimenet", DimeNet)
register("spherenet", SphereNet)
register("r3s2-attention", R3S2AttentionNet)

__all__ += ["DimeNet", "EGNN", "R3S2AttentionNet", "SchNet", "SphereNet"]
