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
