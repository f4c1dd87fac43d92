"""Models: one class per architecture, variants, and a registry.

>>> from regconv import models
>>> models.available()  # doctest: +SKIP
['dimenet', 'egnn', 'r3', 'r3-nbody', 'r3s2', ...]
>>> model = models.create("r3s2", num_outputs=1, hidden=64)  # doctest: +SKIP
"""

from regconv.models.attention import R3S2AttentionNet
from regconv.models.contract import Output, batch_vector, check_batch
from regconv.models.dimenet import DimeNet
from regconv.models.edge_net import EdgeNet
from regconv.models.egnn import EGNN
from regconv.models.fibre_net import FibreNet
from regconv.models.r3 import R3Net
from regconv.models.r3s2 import R3S2Net
from regconv.models.registry import available, create, options, register
from regconv.models.schnet import SchNet
from regconv.models.se3 import SE3Net
from regconv.models.spherenet import SphereNet
from regconv.models.variants import nbody_defaults

register("r3", R3Net)
register("r3s2", R3S2Net)
register("r3s2-edge", EdgeNet)
register("se3", SE3Net)
register("r3s2-attention", R3S2AttentionNet)
register("schnet", SchNet)
register("egnn", EGNN)
register("dimenet", DimeNet)
register("spherenet", SphereNet)
register("r3-nbody", R3Net, nbody_defaults())
# the distance Gaussians of r3s2's spatial basis (release 0.3) were not part of the measured
# N-body model (BENCHMARKS.md, "Charged N-body")
register("r3s2-nbody", R3S2Net, {**nbody_defaults(), "basis_radial": 0})

__all__ = [
    "DimeNet",
    "EGNN",
    "EdgeNet",
    "FibreNet",
    "Output",
    "R3Net",
    "R3S2AttentionNet",
    "R3S2Net",
    "SE3Net",
    "SchNet",
    "SphereNet",
    "available",
    "batch_vector",
    "check_batch",
    "create",
    "options",
    "register",
]
