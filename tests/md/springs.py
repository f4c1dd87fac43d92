"""A test potential of the molecular-dynamics tests: unit springs between all pairs of atoms,
as a function, a force field (:class:`regconv.md.ForceField`) and an ASE calculator."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

POS = np.array([[0.0, 0, 0], [1.45, 0.1, 0], [0.7, 1.3, 0.05], [0.75, 0.4, 1.25]])
NUMBERS = np.array([6, 1, 8, 7])
MASSES = np.array([12.0, 1.0, 16.0, 14.0])
#: a second molecule of another size, for mixed batches
POS3 = np.array([[0.0, 0, 0], [1.2, 0.1, 0], [0.5, 1.1, 0.2]])
NUMBERS3 = np.array([8, 1, 1])


def spring_molecule(p: np.ndarray) -> tuple[float, np.ndarray]:
    """Energy (eV) and forces ``[N, 3]`` of unit springs (1 eV/Å^2) between all pairs, rest
    length 1.3 Å."""
    n = len(p)
    d = p[:, None] - p[None]  # [N, N, 3]
    r = np.linalg.norm(d, axis=-1) + np.eye(n)  # no 0/0 on the diagonal
    off = 1 - np.eye(n)
    energy = 0.25 * (((r - 1.3) ** 2) * off).sum()  # each pair twice
    mag = -(r - 1.3) * off  # [N, N]
    return energy, (mag[..., None] * d / r[..., None]).sum(axis=1)


def springs(numbers, positions):
    """The force field of :func:`spring_molecule`, molecule by molecule."""
    out = [spring_molecule(np.asarray(p)) for p in positions]
    return np.array([e for e, _ in out]), np.concatenate([f for _, f in out])


class Springs(Calculator):
    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        energy, forces = spring_molecule(self.atoms.positions)
        self.results = {"energy": energy, "forces": forces}


class BreaksAfter:
    """:func:`springs`, except that from call ``call`` on (call 0: the start; call ``k``: step
    ``k``) replicas ``index`` of a batch of ``batch`` get a NaN energy (a model that blows up).
    Once they are finished the batch is smaller, and the others stay finite."""

    def __init__(self, call: int, index: int | slice = 1, batch: int = 3) -> None:
        self.call, self.index, self.batch, self.calls = call, index, batch, 0

    def __call__(self, numbers, positions):
        e, f = springs(numbers, positions)
        if self.calls >= self.call and len(positions) == self.batch:
            e[self.index] = np.nan
        self.calls += 1
        return e, f
