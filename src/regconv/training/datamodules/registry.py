"""The data modules by class name: the one line a new data set adds.

Each entry maps a :class:`~regconv.training.datamodules.base.GraphDataModule` subclass to the
module that defines it. :mod:`regconv.training` and :mod:`regconv.training.datamodules` re-export
every entry (imported on first use, so the table itself imports nothing), which is what makes
``data: {class_path: regconv.training.<Name>}`` work in ``regconv fit`` configs.
"""

from __future__ import annotations

import importlib

__all__ = ["DATA_MODULES", "available", "import_all"]

DATA_MODULES: dict[str, str] = {
    "DatasetDataModule": "regconv.training.datamodules.base",  # your own data sets (Python)
    "GraphDataModule": "regconv.training.datamodules.base",  # the base class
    "QM9DataModule": "regconv.training.datamodules.qm9",
    "NBodyDataModule": "regconv.training.datamodules.nbody",
    "MD17DataModule": "regconv.training.datamodules.md17",
}


def available() -> list[str]:
    """The registered data modules of data sets (the base class and the one over given data
    sets left out)."""
    return sorted(k for k in DATA_MODULES if k not in ("DatasetDataModule", "GraphDataModule"))


def import_all() -> None:
    """Import every registered data module (``regconv fit --help`` lists the subclasses of
    ``GraphDataModule`` that are imported)."""
    for module in dict.fromkeys(DATA_MODULES.values()):
        importlib.import_module(module)
