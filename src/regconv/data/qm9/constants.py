r"""QM9's targets (names, symbols, units, CSV columns, conversions), elements and sizes.

Pure Python (no NumPy, no torch), so that reading a checkpoint's task needs nothing heavier.

Targets
-------
``y`` has 12 columns, in this order, in the units of the published QM9 benchmarks
(``QM9_TARGETS`` holds ``(name, unit)``):

====  ======  =======  ==========  ==========================  ===================
 col  name    symbol   unit        CSV column                  conversion
====  ======  =======  ==========  ==========================  ===================
   0  mu      μ        D           Dipole_debye                none
   1  alpha   α        bohr^3      Polarizability_bohr3        none
   2  homo    ε_HOMO   meV         HOMO_au                     E x HA
   3  lumo    ε_LUMO   meV         LUMO_au                     E x HA
   4  gap     Δε       meV         HOMO_LUMO_gap_au            E x HA
   5  r2      ⟨R²⟩     bohr^2      R2_bohr2                    none
   6  zpve    ZPVE     meV         ZPVE_au                     E x HA
   7  u0      U0       meV         InternalEnergy_0K_au        (E - Σ E_ref) x HA
   8  u       U        meV         InternalEnergy_298K_au      (E - Σ E_ref) x HA
   9  h       H        meV         Enthalphy_298K_au           (E - Σ E_ref) x HA
  10  g       G        meV         GibbsFreeEnergy_298K_au     (E - Σ E_ref) x HA
  11  cv      C_v      cal/mol K   Heatcapacity_Cv_cal_mol_K   none
====  ======  =======  ==========  ==========================  ===================

HA = 27211.386246 meV per Ha (1 Ha = 27.211386246 eV). U0, U, H and G are *atomisation* energies:
the total energy E minus the sum of the isolated-atom energies E_ref of the same level of theory
(B3LYP/6-31G(2df,p), ``ATOM_REFS_HA``). The conversion itself is
:func:`regconv.data.qm9.source.targets_from_raw` (in float64).
"""

from __future__ import annotations

__all__ = [
    "ATOMISATION_COLUMNS",
    "ATOM_REFS_HA",
    "CSV_TARGET_COLUMNS",
    "ELEMENTS",
    "EXTENSIVE_QM9_TARGETS",
    "HARTREE_COLUMNS",
    "HARTREE_TO_MEV",
    "KNOWN_ELEMENTS",
    "QM9_MAX_ID",
    "QM9_NUM_GAPS",
    "QM9_NUM_MOLECULES",
    "QM9_TARGETS",
    "QM9_TARGET_NAMES",
    "QM9_TARGET_SYMBOLS",
    "QM9_UNITS",
    "SYMBOL_OF_Z",
]

HARTREE_TO_MEV = 27211.386246
"""1 Ha in meV (1 Ha = 27.211386246 eV)."""

QM9_TARGETS: list[tuple[str, str]] = [
    ("mu", "D"),
    ("alpha", "bohr^3"),
    ("homo", "meV"),
    ("lumo", "meV"),
    ("gap", "meV"),
    ("r2", "bohr^2"),
    ("zpve", "meV"),
    ("u0", "meV"),
    ("u", "meV"),
    ("h", "meV"),
    ("g", "meV"),
    ("cv", "cal/mol K"),
]
"""The 12 regression targets, ``(short name, unit)``, in the column order of ``y``."""

QM9_TARGET_NAMES: list[str] = [name for name, _ in QM9_TARGETS]
"""The target names alone, in the column order of ``y``."""

QM9_UNITS: dict[str, str] = dict(QM9_TARGETS)
"""Target name -> unit, in the column order of ``y`` (the one unit table of the library)."""

EXTENSIVE_QM9_TARGETS = frozenset({"zpve", "u0", "u", "h", "g"})
"""Targets that grow with the molecule size; ``per_atom`` standardisation applies to these."""

QM9_TARGET_SYMBOLS: dict[str, str] = {
    "mu": "μ",
    "alpha": "α",
    "homo": "ε_HOMO",
    "lumo": "ε_LUMO",
    "gap": "Δε",
    "r2": "⟨R²⟩",
    "zpve": "ZPVE",
    "u0": "U0",
    "u": "U",
    "h": "H",
    "g": "G",
    "cv": "C_v",
}
"""Conventional symbol of each target."""

CSV_TARGET_COLUMNS: list[str] = [
    "Dipole_debye",
    "Polarizability_bohr3",
    "HOMO_au",
    "LUMO_au",
    "HOMO_LUMO_gap_au",
    "R2_bohr2",
    "ZPVE_au",
    "InternalEnergy_0K_au",
    "InternalEnergy_298K_au",
    "Enthalphy_298K_au",
    "GibbsFreeEnergy_298K_au",
    "Heatcapacity_Cv_cal_mol_K",
]
"""The qm9pack CSV column of each target, in ``QM9_TARGETS`` order."""

HARTREE_COLUMNS = [2, 3, 4, 6]  # homo, lumo, gap, zpve: Ha -> meV
ATOMISATION_COLUMNS = [7, 8, 9, 10]  # u0, u, h, g: (E - sum of atom refs) Ha -> meV

ELEMENTS: dict[str, int] = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
"""QM9's elements: symbol -> atomic number."""
SYMBOL_OF_Z: dict[int, str] = {z: s for s, z in ELEMENTS.items()}
"""Atomic number -> symbol of QM9's elements."""
KNOWN_ELEMENTS = "QM9 models know H, C, N, O, F"
"""The hint that error messages about an unknown element end with."""

ATOM_REFS_HA: dict[str, tuple[float, float, float, float]] = {
    # element: (U0, U, H, G) of the isolated atom, Ha, B3LYP/6-31G(2df,p)
    "H": (-0.500273, -0.498857, -0.497912, -0.510927),
    "C": (-37.846772, -37.845355, -37.844411, -37.861317),
    "N": (-54.583861, -54.582445, -54.581501, -54.598897),
    "O": (-75.064579, -75.063163, -75.062219, -75.079532),
    "F": (-99.718730, -99.717314, -99.716370, -99.733544),
}
"""Isolated-atom energies (U0, U, H, G) in Ha, subtracted to get atomisation energies."""

QM9_NUM_MOLECULES = 130_831
"""Molecules of the full QM9 (ids 1..133,885 less the 3,054 that failed its consistency check)."""
QM9_MAX_ID = 133_885
QM9_NUM_GAPS = QM9_MAX_ID - QM9_NUM_MOLECULES  # 3,054
