r"""An ASE calculator of a trained regconv energy + force model (molecular dynamics, relaxation).

::

    from ase.io import read
    from regconv.ase import RegconvCalculator

    atoms = read("aspirin.xyz")
    atoms.calc = RegconvCalculator("runs/md17/checkpoints/best.ckpt")
    atoms.get_potential_energy(), atoms.get_forces()   # eV, eV/Å

The forces are minus the gradient of the model's energy (autograd), so they are conservative.
Periodic atoms (``atoms.pbc``, ``atoms.cell``) run on the periodic graph; for cells periodic
along all three axes the calculator also gives the ``stress`` (eV/Å^3, ASE's Voigt order and
sign), the strain derivative of the same energy.
Units: ASE's eV and eV/Å in and out, whatever units the model was trained in (read from the
checkpoint's task spec). Results are cached by ASE until the atoms change. Many replicas of one
or several molecules in one model call per step, the NVE-drift and stability checks:
:mod:`regconv.md` (its :class:`regconv.md.RegconvForces` wraps this calculator).
"""

from __future__ import annotations

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import full_3x3_to_voigt_6_stress

from regconv.graph.molecules import MoleculeBatch

__all__ = ["RegconvCalculator"]

#: factor from a training unit to ASE's eV (energies) or eV/Å (forces)
TO_EV = {"meV": 1e-3, "eV": 1.0, "meV/Å": 1e-3, "eV/Å": 1.0}
DTYPES = {"float32": torch.float32, "float64": torch.float64}


class RegconvCalculator(Calculator):
    """ASE calculator of a checkpoint written by ``regconv fit`` on an energy + force task.

    Args:
        checkpoint: path of the checkpoint (``best.ckpt`` or ``last.ckpt``).
        device: torch device (``"cpu"``, ``"cuda"``).
        dtype: ``"float32"`` (the default: molecular dynamics) or ``"float64"`` (relaxations,
            finite-difference checks).
        rotations: average the energy and the rotated-back forces over this many fixed random
            rotations (models on a grid fibre, whose rotation invariance is approximate); the
            rotations are the same at every call, so the averaged model stays a smooth function
            of the positions.
        model_options: options of the model to replace, those that keep its ``state_dict``
            (:meth:`regconv.training.Predictor.from_checkpoint`): ``{"table": None}`` for the
            exact kernel of a model trained with a table, ``{"table": {"order":
            "cubic_bspline"}}`` for the C² table.

    Per-atom ``energies`` (``atoms.get_potential_energies()``, eV, adding up to the energy) where
    the model's energy is a sum of atom contributions (the fibre models, ``schnet``, ``egnn``);
    the edge-output models (``dimenet``, ``spherenet``, ``r3s2-edge``) do not list them.

    ``stress`` (``atoms.get_stress()``, eV/Å^3) for cells periodic along all three axes: the
    derivative of the energy with respect to a symmetric strain of cell and positions, over the
    volume.

    Raises ``ValueError`` for a checkpoint of another task kind (no forces), an element the
    model's embedding does not know, non-finite positions or cell, a periodic axis without a
    lattice vector (singular cell) and a model without a cutoff on periodic atoms.
    """

    implemented_properties = ["energy", "free_energy", "forces", "energies", "stress"]

    def __init__(
        self,
        checkpoint: str,
        device: str = "cpu",
        dtype: str = "float32",
        rotations: int = 0,
        model_options: dict | None = None,
    ) -> None:
        super().__init__()
        from regconv.training.predict import load_task

        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        if isinstance(rotations, bool) or not isinstance(rotations, int) or rotations < 0:
            raise ValueError(f"rotations must be an integer >= 0, got {rotations!r}")
        task = load_task(checkpoint, map_location=device, model_options=model_options)
        if task.spec.kind != "energy_forces":
            raise ValueError(
                f"{checkpoint}: a model of a {task.spec.kind!r} task "
                f"({', '.join(task.spec.names)}) has no forces; train one with an energy + force "
                "data module (MD17DataModule)"
            )
        units = task.spec.units
        if units[0] not in TO_EV or units[1] not in TO_EV:
            raise ValueError(f"{checkpoint}: unknown energy / force units {units}")
        self.energy_to_ev, self.forces_to_ev = TO_EV[units[0]], TO_EV[units[1]]
        self.task = task.to(device=torch.device(device), dtype=DTYPES[dtype]).eval()
        self.device, self.dtype, self.rotations = torch.device(device), DTYPES[dtype], rotations
        if not task.has_atom_energies:  # per instance: what this model can report
            self.implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def _batch(self, atoms) -> MoleculeBatch:
        pos = np.asarray(atoms.positions, dtype=np.float64)
        if not np.isfinite(pos).all():
            raise ValueError("atoms.positions contains NaN or Inf")
        z = torch.as_tensor(atoms.numbers, dtype=torch.long)
        molecule = (z, torch.as_tensor(pos, dtype=self.dtype))
        batch = MoleculeBatch.from_molecules([molecule], device=self.device)
        if atoms.pbc.any():
            cell = np.asarray(atoms.cell.array, dtype=np.float64)
            if not np.isfinite(cell).all():
                raise ValueError("atoms.cell contains NaN or Inf")
            batch.cell = torch.as_tensor(cell, dtype=self.dtype, device=self.device)[None]
            batch.pbc = torch.as_tensor(np.asarray(atoms.pbc, dtype=bool), device=self.device)[None]
        return batch

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        batch = self._batch(self.atoms)
        out = self.task.potential(
            batch,
            rotations=self.rotations,
            # the strain gradient comes from the same backward pass: computed with every call
            # on a cell periodic along all axes, so that NPT and cell filters (forces, then
            # stress) run the model once per step
            stress=bool(self.atoms.pbc.all()),
            atom_energies="energies" in self.implemented_properties,
        )
        e = float(out["energy"][0]) * self.energy_to_ev
        self.results = {
            "energy": e,
            "free_energy": e,
            "forces": out["forces"].double().cpu().numpy() * self.forces_to_ev,
        }
        if "energies" in out:
            self.results["energies"] = out["energies"].double().cpu().numpy() * self.energy_to_ev
        if "stress" in out:  # energy unit per Å^3 -> eV/Å^3, Voigt (xx, yy, zz, yz, xz, xy)
            sigma = out["stress"][0].double().cpu().numpy() * self.energy_to_ev
            self.results["stress"] = full_3x3_to_voigt_6_stress(sigma)
