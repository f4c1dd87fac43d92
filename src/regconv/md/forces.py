r"""Force fields of the replica integrator: energies and forces of many molecules per call.

A force field is any callable

.. math::

    (z_r, x_r)_{r=1..R'} \mapsto \big(E_r,\; F_r = -\nabla_{x_r} E_r\big)_{r=1..R'}

called once per time step on the replicas still running. Units are ASE's: positions in Å,
energies in eV, forces in eV/Å.

- :class:`RegconvForces`: a regconv energy + force model (through its
  :class:`regconv.ase.RegconvCalculator`), all replicas in one batch, one model call.
- :class:`CalculatorForces`: any ASE calculator, one call per replica (a reference potential,
  another package's model).

Shapes:
    ``numbers``: ``R'`` arrays ``[N_r]`` (atomic numbers); ``positions``: ``R'`` arrays
    ``[N_r, 3]`` (float64). Returned: energies ``[R']`` and forces ``[A', 3]``, the replicas'
    atoms one after the other (``A' = sum_r N_r``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from regconv.ase import RegconvCalculator

__all__ = ["CalculatorForces", "ForceField", "RegconvForces"]


class ForceField(Protocol):
    """Energies ``[R']`` (eV) and forces ``[A', 3]`` (eV/Å) of ``R'`` molecules.

    Forces may also come back as ``[R', N, 3]`` (molecules of one size) or as a list of
    ``[N_r, 3]`` arrays; the integrator concatenates them. Periodic replicas come with
    ``cells``, per replica ``(cell [3, 3], pbc [3])``.
    """

    def __call__(
        self,
        numbers: Sequence[np.ndarray],
        positions: Sequence[np.ndarray],
        cells: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...


class RegconvForces:
    """Energies and forces of a regconv energy + force model on many molecules, one batch.

    The forces are :math:`-\\nabla E` of the model's energy (autograd), so the dynamics are
    conservative. Test-time rotations are refused: their draw depends on the batch size, so a
    replica's forces would depend on the replicas beside it.

    Args:
        calculator: the model, as loaded by :class:`regconv.ase.RegconvCalculator` (its
            device, dtype and units are used).

    Shapes:
        ``__call__``: ``numbers`` ``R`` arrays ``[N_r]``, ``positions`` ``R`` arrays
        ``[N_r, 3]`` -> energies ``[R]``, forces ``[A, 3]``.
    """

    def __init__(self, calculator: RegconvCalculator) -> None:
        from regconv.ase import RegconvCalculator

        if not isinstance(calculator, RegconvCalculator):
            raise ValueError(
                f"calculator must be a RegconvCalculator, got {type(calculator).__name__}; "
                "wrap other ASE calculators in CalculatorForces"
            )
        if calculator.rotations:
            raise ValueError(
                f"the calculator averages over {calculator.rotations} test-time rotations, drawn "
                "per batch: a replica's forces would depend on the others; use rotations=0"
            )
        self.calc = calculator

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | Path,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        model_options: dict | None = None,
    ) -> RegconvForces:
        """The model of an energy + force checkpoint (``dtype`` ``"float32"`` or
        ``"float64"``; ``model_options``: see :meth:`regconv.training.Predictor.from_checkpoint`,
        e.g. another kernel table for the same weights)."""
        from regconv.ase import RegconvCalculator

        calc = RegconvCalculator(str(checkpoint), device=device, dtype=dtype,
                                 model_options=model_options)  # fmt: skip
        return cls(calc)

    def __call__(
        self,
        numbers: Sequence[np.ndarray],
        positions: Sequence[np.ndarray],
        cells: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from regconv.graph.molecules import MoleculeBatch

        calc = self.calc
        molecules = [
            (torch.as_tensor(np.asarray(z), dtype=torch.long), torch.as_tensor(np.asarray(p)))
            for z, p in zip(numbers, positions, strict=True)
        ]
        batch = MoleculeBatch.from_molecules(molecules, dtype=calc.dtype, device=calc.device)
        if cells is not None:
            batch.cell = torch.as_tensor(np.stack([c for c, _ in cells]), dtype=calc.dtype,
                                         device=calc.device)  # fmt: skip
            batch.pbc = torch.as_tensor(np.stack([np.asarray(p, dtype=bool) for _, p in cells]),
                                        device=calc.device)  # fmt: skip
        energy, forces = calc.task.energy_forces(batch)  # [B], [A, 3] in training units
        e = energy.detach().double().cpu().numpy() * calc.energy_to_ev
        return e, forces.detach().double().cpu().numpy() * calc.forces_to_ev


class CalculatorForces:
    """Energies and forces of any ASE calculator, one calculator call per molecule.

    Args:
        calculator: an ASE calculator with ``energy`` and ``forces`` (eV, eV/Å).

    Shapes:
        ``__call__``: ``numbers`` ``R`` arrays ``[N_r]``, ``positions`` ``R`` arrays
        ``[N_r, 3]`` -> energies ``[R]``, forces ``[A, 3]``.
    """

    def __init__(self, calculator) -> None:
        if not callable(getattr(calculator, "get_property", None)):
            raise ValueError(f"not an ASE calculator: {type(calculator).__name__}")
        self.calc = calculator

    def __call__(
        self,
        numbers: Sequence[np.ndarray],
        positions: Sequence[np.ndarray],
        cells: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        from ase import Atoms

        energies, forces = [], []
        for r, (z, p) in enumerate(zip(numbers, positions, strict=True)):
            if cells is None:
                atoms = Atoms(numbers=z, positions=p)
            else:
                atoms = Atoms(numbers=z, positions=p, cell=cells[r][0], pbc=cells[r][1])
            atoms.calc = self.calc
            energies.append(atoms.get_potential_energy())
            forces.append(atoms.get_forces())
        return np.asarray(energies, dtype=np.float64), np.concatenate(forces)
