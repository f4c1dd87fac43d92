"""Charged N-body simulator and the charged N-body data set (5 particles in 3D).

``physics`` (the simulator and its protocol), ``initial`` (initial states: our seeds or the
published stream), ``files`` (generated splits cached as checksummed ``.npz``), ``stats``
(summary statistics), ``dataset`` (:class:`NBody`) and ``cli`` (``python -m regconv.data.nbody``).
"""

from regconv.data.nbody.cli import main
from regconv.data.nbody.dataset import NBody
from regconv.data.nbody.files import (
    FORMAT_VERSION,
    ensure_split,
    generate,
    generate_split,
    load_split,
    protocol,
)
from regconv.data.nbody.initial import (
    LOC_STD,
    PUBLISHED_SEED,
    PUBLISHED_SIZES,
    SOURCES,
    SPLIT_SEEDS,
    SPLIT_SIZES,
    SPLITS,
    VEL_NORM,
    check_source,
    check_split,
    sample_initial_conditions,
    sample_published_initial_conditions,
)
from regconv.data.nbody.physics import (
    DIM,
    DT,
    INTERACTION_STRENGTH,
    MAX_FORCE,
    N_FRAMES,
    N_PARTICLES,
    SAMPLE_EVERY,
    SCHEME,
    STEPS,
    energy,
    forces,
    frame_time,
    simulate,
    simulate_batch,
)
from regconv.data.nbody.stats import summary

__all__ = [
    "DIM",
    "DT",
    "FORMAT_VERSION",
    "INTERACTION_STRENGTH",
    "LOC_STD",
    "MAX_FORCE",
    "N_FRAMES",
    "N_PARTICLES",
    "PUBLISHED_SEED",
    "PUBLISHED_SIZES",
    "SAMPLE_EVERY",
    "SCHEME",
    "SOURCES",
    "SPLITS",
    "SPLIT_SEEDS",
    "SPLIT_SIZES",
    "STEPS",
    "VEL_NORM",
    "NBody",
    "check_source",
    "check_split",
    "energy",
    "ensure_split",
    "forces",
    "frame_time",
    "generate",
    "generate_split",
    "load_split",
    "main",
    "protocol",
    "sample_initial_conditions",
    "sample_published_initial_conditions",
    "simulate",
    "simulate_batch",
    "summary",
]
