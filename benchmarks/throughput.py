"""The installed throughput benchmarks with PyTorch Geometric's reference models beside.

    python -m benchmarks throughput --models r3s2 r3s2:table=None r3 schnet-pyg dimenet++-pyg \\
        [--config ponita|default] [--subset 2000] [--batch-size 96] [--repeats 5] [--threads N]
    python -m benchmarks device-throughput --device cuda --models r3s2 schnet dimenet++-pyg ...

``regconv bench throughput`` (:mod:`regconv.bench.throughput`) and ``regconv bench
device-throughput`` (:mod:`regconv.bench.device_throughput`) with the models of
:mod:`benchmarks.references` (``schnet-pyg``, ``dimenet++-pyg``) known by name and in the
default model lists; the protocols and options are theirs.
"""

from __future__ import annotations

from functools import partial

from benchmarks.processes import harness_command
from benchmarks.references import REFERENCES, create_reference
from regconv.bench import device_throughput, throughput

__all__ = ["DEFAULT_MODELS", "REFERENCE_BUILDERS", "device_main", "main"]

#: The reference models by name, built as the installed benchmarks build them (seeded)
REFERENCE_BUILDERS = {name: partial(create_reference, name) for name in REFERENCES}

#: ``throughput``'s models when ``--models`` is not given
DEFAULT_MODELS = [*throughput.DEFAULT_MODELS, "schnet-pyg", "dimenet++-pyg"]


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks throughput``."""
    return throughput.main(
        argv,
        references=REFERENCE_BUILDERS,
        default_models=DEFAULT_MODELS,
        command=harness_command("throughput"),
        prog="python -m benchmarks throughput",
    )


def device_main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks device-throughput``."""
    return device_throughput.main(
        argv,
        references=REFERENCE_BUILDERS,
        default_models=[*device_throughput.DEFAULT_MODELS, "dimenet++-pyg"],
        prog="python -m benchmarks device-throughput",
    )
