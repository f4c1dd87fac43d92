"""The one unit table of the MD17 data: energies to meV, forces to meV/Å (the internal units).

Lengths are Å everywhere; a force unit is an energy unit per Å (or per Bohr for Hartree/Bohr).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BOHR_IN_ANGSTROM",
    "ENERGY_UNITS",
    "EV_TO_MEV",
    "FORCE_UNITS",
    "HARTREE_TO_MEV",
    "KCAL_PER_MOL_TO_MEV",
    "UNITS",
    "canonical_unit",
    "to_mev",
]

KCAL_PER_MOL_TO_MEV = 4184.0 / (6.02214076e23 * 1.602176634e-19) * 1000.0
"""1 kcal/mol in meV: 4184 J/mol / (N_A e) = 43.364104 meV (exact SI constants, thermochemical
calorie). Rounded: 43.3641 meV. PyG's QM9 uses 0.04336414 eV (43.36414 meV), PONITA's MD17
script 43.3634 meV; the three differ by at most 1.6e-5 relative."""

EV_TO_MEV = 1000.0
"""1 eV in meV."""

HARTREE_TO_MEV = 27211.386245988
"""1 Hartree in meV (CODATA 2018: 1 Eh = 27.211386245988 eV)."""

BOHR_IN_ANGSTROM = 0.529177210903
"""1 Bohr in Å (CODATA 2018)."""

ENERGY_UNITS: dict[str, float] = {
    "meV": 1.0,
    "eV": EV_TO_MEV,
    "kcal/mol": KCAL_PER_MOL_TO_MEV,
    "Hartree": HARTREE_TO_MEV,
}
"""Energy unit -> meV per unit."""

FORCE_UNITS: dict[str, float] = {
    "meV/A": 1.0,
    "eV/A": EV_TO_MEV,
    "kcal/mol/A": KCAL_PER_MOL_TO_MEV,
    "Hartree/A": HARTREE_TO_MEV,
    "Hartree/Bohr": HARTREE_TO_MEV / BOHR_IN_ANGSTROM,
}
"""Force unit -> meV/Å per unit (``A`` is Å)."""

UNITS: dict[str, float] = {**ENERGY_UNITS, **FORCE_UNITS}
"""Every unit :func:`to_mev` knows -> its factor to meV (energies) or meV/Å (forces)."""

# spellings accepted for the names above (compared after removing spaces, case-insensitively)
_ALIASES = {
    "ha": "Hartree",
    "eh": "Hartree",
    "hartree": "Hartree",
    "kcal/mol/ang": "kcal/mol/A",
    "ev/ang": "eV/A",
    "mev/ang": "meV/A",
    "ha/a": "Hartree/A",
    "ha/bohr": "Hartree/Bohr",
    "hartree/bohr": "Hartree/Bohr",
}
_LOWER = {name.lower(): name for name in UNITS}


def canonical_unit(unit: str) -> str:
    """The table's name of ``unit`` (``"Å"`` and ``"Ang"`` read as ``"A"``, case and spaces
    ignored), e.g. ``"kcal/mol/Å"`` -> ``"kcal/mol/A"``; ``ValueError`` naming an unknown unit."""
    if not isinstance(unit, str):
        raise ValueError(f"unit must be a string, got {unit!r}")
    key = unit.replace(" ", "").replace("Å", "A").replace("Angstrom", "A").lower()
    key = key.replace("/angstrom", "/a")
    name = _LOWER.get(key) or _ALIASES.get(key)
    if name is None:
        raise ValueError(f"unknown unit {unit!r}; known: {', '.join(UNITS)}")
    return name


def to_mev(values: np.ndarray | float, unit: str) -> np.ndarray:
    """``values`` (any shape) in ``unit`` converted to meV (an energy unit) or meV/Å (a force
    unit), as float64.

    Shapes: ``values [...]`` -> ``[...]``.

    Raises:
        ValueError: ``unit`` is not in :data:`UNITS` (the message names it and lists the known).
    """
    factor = UNITS[canonical_unit(unit)]
    return np.asarray(values, dtype=np.float64) * factor
