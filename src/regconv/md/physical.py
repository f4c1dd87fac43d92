r"""When a molecular-dynamics run of a molecule stops being physical.

Against its start geometry, a run stays physical while

- **no bond breaks**: bonds are the pairs closer than ``bond_factor`` (1.2) times the sum of
  their covalent radii at the start (ASE's table); none may stretch beyond ``stretch`` (2) times
  its starting length;
- **no atoms collapse onto each other**: no pair, bonded or not, comes closer than ``collapse``
  (0.5) times the sum of its covalent radii, :math:`d_{ij} < c\,(r_i + r_j)`: 0.31 Å for H-H,
  0.54 Å for C-H, 0.76 Å for C-C. The shortest real bonds are 0.79 (C≡C) to 1.2 (H-H) times
  that sum, non-bonded contacts much longer; a model whose energy falls without bound as two
  atoms approach sends them there;
- **no atom escapes**: none is further than ``escape`` Å (10) from the centre of mass;
- its positions stay finite.

Shapes:
    ``numbers`` ``[N]``, ``positions`` ``[N, 3]`` (Å), ``masses`` ``[N]`` (amu); bonds
    ``[K, 3]`` rows ``(i, j, d0)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from regconv.utils.checks import check_positive

__all__ = ["PhysicalCheck", "bonds_of"]


def _radius_sums(numbers: np.ndarray) -> np.ndarray:
    """``[N, N]`` sums of covalent radii (Å)."""
    from ase.data import covalent_radii

    r = covalent_radii[np.asarray(numbers)]
    return r[:, None] + r[None]


def _distances(pos: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pos[:, None] - pos[None], axis=-1)  # [N, N]


def bonds_of(numbers: np.ndarray, pos: np.ndarray, factor: float = 1.2) -> np.ndarray:
    """``[K, 3]`` rows ``(i, j, d0)``, ``i < j``: the pairs closer than ``factor`` times the sum
    of their covalent radii (ASE's table), with their distance (Å)."""
    d = _distances(np.asarray(pos, dtype=np.float64))
    i, j = np.nonzero(np.triu(d < factor * _radius_sums(numbers), 1))
    return np.stack([i, j, d[i, j]], axis=1)


@dataclass(frozen=True, eq=False)
class PhysicalCheck:
    """The criteria of one molecule, from its start geometry (:meth:`of`); :meth:`violation`
    says whether, and how, a geometry broke them.

    Attributes:
        symbols: ``[N]`` element symbols (for messages).
        masses: ``[N]`` (amu).
        bonds: ``[K, 3]`` the bonds at the start, rows ``(i, j, d0)``.
        collapse_at: ``[N, N]`` the distance below which a pair has collapsed (Å).
        stretch: the largest bond length, as a multiple of its starting length.
        escape: the largest distance of an atom from the centre of mass (Å).
    """

    symbols: tuple[str, ...]
    masses: np.ndarray
    bonds: np.ndarray
    collapse_at: np.ndarray
    stretch: float
    escape: float

    @classmethod
    def of(
        cls,
        numbers: np.ndarray,
        positions: np.ndarray,
        masses: np.ndarray | None = None,
        *,
        bond_factor: float = 1.2,
        stretch: float = 2.0,
        collapse: float = 0.5,
        escape: float = 10.0,
    ) -> PhysicalCheck:
        """The criteria of the molecule ``numbers`` at the start ``positions`` (module
        docstring); ``masses`` default to ASE's. ``ValueError`` for bad factors, or if the start
        itself is not physical."""
        from ase.data import atomic_masses, chemical_symbols

        z = np.asarray(numbers, dtype=np.int64)
        pos = np.asarray(positions, dtype=np.float64)
        if z.ndim != 1 or pos.shape != (z.size, 3):
            raise ValueError(f"need numbers [N] and positions [N, 3], got {z.shape}, {pos.shape}")
        for name, value in (("bond_factor", bond_factor), ("stretch", stretch),
                            ("collapse", collapse), ("escape", escape)):  # fmt: skip
            check_positive(name, value)
        if stretch <= 1.0 or collapse >= bond_factor:
            raise ValueError(
                f"need stretch > 1 and collapse < bond_factor, got stretch {stretch}, collapse "
                f"{collapse}, bond_factor {bond_factor}"
            )
        m = atomic_masses[z] if masses is None else np.asarray(masses, dtype=np.float64)
        check = cls(
            symbols=tuple(chemical_symbols[k] for k in z),
            masses=m,
            bonds=bonds_of(z, pos, bond_factor),
            collapse_at=collapse * _radius_sums(z),
            stretch=float(stretch),
            escape=float(escape),
        )
        problem = check.violation(pos)
        if problem is not None:
            raise ValueError(f"the start geometry is not physical: {problem}")
        return check

    def violation(self, positions: np.ndarray) -> str | None:
        """None while ``positions`` ``[N, 3]`` are physical, else what broke (the first of:
        non-finite positions, a collapsed pair, a stretched bond, an escaped atom)."""
        pos = np.asarray(positions, dtype=np.float64)
        if not np.isfinite(pos).all():
            return "positions are not finite"
        d = _distances(pos)
        close = np.triu(d < self.collapse_at, 1)
        if close.any():
            i, j = (int(k) for k in np.argwhere(close)[0])
            return (
                f"atoms {i} ({self.symbols[i]}) and {j} ({self.symbols[j]}) collapsed: "
                f"{d[i, j]:.3f} Å apart, below {self.collapse_at[i, j]:.3f} Å"
            )
        i, j = self.bonds[:, 0].astype(int), self.bonds[:, 1].astype(int)
        ratio = d[i, j] / self.bonds[:, 2]
        if (ratio > self.stretch).any():
            k = int(np.argmax(ratio))
            return (
                f"bond {i[k]}-{j[k]} ({self.symbols[i[k]]}-{self.symbols[j[k]]}) stretched to "
                f"{ratio[k]:.2f}x its starting {self.bonds[k, 2]:.2f} Å"
            )
        com = (self.masses[:, None] * pos).sum(0) / self.masses.sum()
        r = np.linalg.norm(pos - com, axis=-1)
        if r.max() > self.escape:
            k = int(np.argmax(r))
            return f"atom {k} ({self.symbols[k]}) {r[k]:.2f} Å from the centre of mass"
        return None
