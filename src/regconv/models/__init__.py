"""Models: one class per architecture, the fibre models as registry entries of
:class:`FibreNet`, variants, and a registry.

>>> from regconv import models
>>> models.available()  # doctest: +SKIP
['dimenet', 'egnn', 'r3', 'r3-nbody', 'r3s2', ...]
>>> net = models.create("r3s2", hidden=64, table={"order": "linear"})  # doctest: +SKIP
"""

from regconv.models import attention, r3, r3s2, se3
from regconv.models.contract import Output, batch_vector, check_batch
from regconv.models.dimenet import DimeNet
from regconv.models.edge_net import EdgeNet
from regconv.models.egnn import EGNN
from regconv.models.fibre_net import FibreNet
from regconv.models.registry import available, create, merge_option, options, register
from regconv.models.schnet import SchNet
from regconv.models.spherenet import SphereNet
from regconv.models.variants import nbody_defaults

register("r3", FibreNet, r3.DEFAULTS)
register("r3s2", FibreNet, r3s2.DEFAULTS)
register("r3s2-edge", EdgeNet)
register("se3", FibreNet, se3.DEFAULTS)
register("r3s2-attention", FibreNet, attention.DEFAULTS)
register("schnet", SchNet)
register("egnn", EGNN)
register("dimenet", DimeNet)
register("spherenet", SphereNet)
register("r3s2-qm9", FibreNet, r3s2.QM9)
register("r3-nbody", FibreNet, {**r3.DEFAULTS, **nbody_defaults()})
# the distance Gaussians of r3s2's spatial basis (release 0.3) were not part of the measured
# N-body model (BENCHMARKS.md, "Charged N-body"): the basis of nbody_defaults() has none
register("r3s2-nbody", FibreNet, {"space": r3s2.DEFAULTS["space"], **nbody_defaults()})

__all__ = [
    "DimeNet",
    "EGNN",
    "EdgeNet",
    "FibreNet",
    "Output",
    "SchNet",
    "SphereNet",
    "available",
    "batch_vector",
    "check_batch",
    "create",
    "merge_option",
    "options",
    "register",
]
