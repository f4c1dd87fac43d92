"""Molecular dynamics with a trained energy + force model: many replicas of one or several
molecules side by side (one model call per step), NVE drift and stability checks, and the
drivers of ``regconv md`` and ``regconv relax``. Units are ASE's: Å, eV, eV/Å, amu, fs.

The model enters as a force field (:class:`RegconvForces` over a
:class:`regconv.ase.RegconvCalculator`, or any ASE calculator through
:class:`CalculatorForces`); docs/md.md has a runnable example.
"""

from regconv.md.dynamics import MDResult, molecular_dynamics
from regconv.md.forces import CalculatorForces, ForceField, RegconvForces
from regconv.md.nve import EnergyDrift, NVERun, energy_drift, nve_drift
from regconv.md.physical import PhysicalCheck, bonds_of
from regconv.md.relax import RelaxResult, relax
from regconv.md.replicas import ReplicaLangevin, num_steps
from regconv.md.stability import StabilityResult, StabilityRun, stability
from regconv.md.structures import append_frame, frame_text, read_one_molecule
from regconv.md.velocities import thermalize, thermalized_copies

__all__ = [
    "CalculatorForces",
    "EnergyDrift",
    "ForceField",
    "MDResult",
    "NVERun",
    "PhysicalCheck",
    "RegconvForces",
    "RelaxResult",
    "ReplicaLangevin",
    "StabilityResult",
    "StabilityRun",
    "append_frame",
    "bonds_of",
    "energy_drift",
    "frame_text",
    "molecular_dynamics",
    "num_steps",
    "nve_drift",
    "read_one_molecule",
    "relax",
    "stability",
    "thermalize",
    "thermalized_copies",
]
