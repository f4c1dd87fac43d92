r"""Relaxation of one structure through its ASE calculator (what ``regconv relax`` runs).

An ASE optimizer (BFGS or FIRE) moves the atoms until the largest force
:math:`\max_i \lVert F_i \rVert` falls below ``fmax`` (eV/Å) or ``steps`` steps are spent.
With ``cell=True`` (periodic systems) the cell relaxes too, through ASE's
``FrechetCellFilter``: its generalised forces include the stress times the volume, so
convergence also means the stress is below ``fmax`` per atom-volume (and ``pressure_GPa``, the
target hydrostatic pressure, is held). Relaxations need precise forces: give the model a
float64 calculator.

Shapes:
    a molecule of ``N`` atoms: positions and forces ``[N, 3]`` (Å, eV/Å).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regconv.utils.checks import check_choice, check_int, check_positive

__all__ = ["RelaxResult", "relax"]


@dataclass(frozen=True, eq=False)
class RelaxResult:
    """Whether the largest force fell below ``fmax``, the optimizer steps, the energies (eV)
    before and after, and the final forces ``[N, 3]`` (eV/Å)."""

    converged: bool
    steps: int
    start_energy: float
    energy: float
    forces: np.ndarray

    @property
    def fmax(self) -> float:
        """The largest force at the end (eV/Å)."""
        return float(np.sqrt((self.forces**2).sum(1).max()))


def relax(
    atoms,
    *,
    fmax: float = 0.01,
    steps: int = 1000,
    optimizer: str = "bfgs",
    cell: bool = False,
    pressure_GPa: float = 0.0,
) -> RelaxResult:
    """Relax ``atoms`` (``ase.Atoms`` with its calculator, moved in place) with ``optimizer``
    (``"bfgs"`` or ``"fire"``) to a largest force below ``fmax`` eV/Å, at most ``steps`` steps;
    with ``cell`` the cell too, at ``pressure_GPa``. ``ValueError`` for bad settings (``cell``
    without a cell periodic along all axes) and whatever the calculator raises on the start
    geometry."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE

    from ase import units

    fmax, steps = check_positive("fmax", fmax), check_int("steps", steps)
    check_choice("optimizer", optimizer, ("bfgs", "fire"))
    if atoms.calc is None:
        raise ValueError("atoms has no calculator: set atoms.calc (e.g. a RegconvCalculator)")
    if cell and not bool(np.all(atoms.pbc)):
        raise ValueError("relaxing the cell needs a structure periodic along all three axes")
    start = atoms.get_potential_energy()
    target = FrechetCellFilter(atoms, scalar_pressure=pressure_GPa * units.GPa) if cell else atoms
    opt = (BFGS if optimizer == "bfgs" else FIRE)(target, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    return RelaxResult(converged=converged, steps=opt.nsteps, start_energy=start,
                       energy=atoms.get_potential_energy(),
                       forces=atoms.get_forces())  # fmt: skip
