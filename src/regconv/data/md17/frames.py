"""Frames (positions, energy, forces; for periodic systems cell, pbc and stress) of one or many
molecules or crystals in one in-memory ``Dataset``.

Internal units: positions Å, energies meV, forces meV/Å, stress meV/Å^3 (ASE's sign: the strain
derivative of the energy over the volume, positive under tension).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from regconv.data.molecules import MAX_Z

__all__ = ["MAX_Z", "Frames", "check_atomic_numbers"]


def check_atomic_numbers(z: np.ndarray, where: str) -> np.ndarray:
    """``z`` as int64 if every entry is an integer in ``1..118``, else ``ValueError`` naming
    ``where`` (the file and key or frame) and the first bad entry.

    Shapes: ``z [N]`` -> ``[N]``.
    """
    z = np.asarray(z)
    if z.ndim != 1 or z.shape[0] == 0:
        raise ValueError(f"{where}: atomic numbers must be a non-empty [N] array, got {z.shape}")
    if z.dtype.kind == "f":
        if not np.all(np.isfinite(z)) or np.any(z != np.round(z)):
            raise ValueError(f"{where}: atomic numbers must be integers, got {z[:8].tolist()}")
    elif z.dtype.kind not in "iu":
        raise ValueError(f"{where}: atomic numbers must be integers, got dtype {z.dtype}")
    bad = np.nonzero((z < 1) | (z > MAX_Z))[0]
    if bad.size:
        raise ValueError(
            f"{where}: unknown element: atomic number {z[bad[0]]} at atom {bad[0]} "
            f"(valid: 1..{MAX_Z})"
        )
    return z.astype(np.int64)


class Frames(torch.utils.data.Dataset):
    """Frames concatenated along the atoms: frame ``f`` holds atoms ``ptr[f]:ptr[f+1]``.

    Items are ``Data(z [n] long, pos [n, 3] float32 Å, energy [1] float64 meV,
    forces [n, 3] float32 meV/Å, frame [1] long)`` (``frame``: the frame's number in its source),
    with ``cell [1, 3, 3]`` float32 Å and ``pbc [1, 3]`` bool when the frames have cells, and
    ``stress [1, 3, 3]`` float32 meV/Å^3 when they have stress (batches stack them to
    ``[B, 3, 3]``, ``[B, 3]``).
    The energy stays float64: totals reach 1e7 meV, where float32 steps are ~1 meV; subtract a
    reference (e.g. the training mean) before casting to float32.

    Shapes: ``z [A]`` int64, ``pos [A, 3]``, ``energy [F]``, ``forces [A, 3]`` float64,
    ``ptr [F + 1]`` int64 (``A`` atoms over all ``F`` frames); optional ``cell [F, 3, 3]``
    (rows: lattice vectors), ``pbc [F, 3]`` bool (both or neither), ``stress [F, 3, 3]``
    (needs cells periodic along all three axes).

    Attributes:
        source: the file the frames came from (or a description).
        format: ``"rmd17"``, ``"sgdml"``, ``"extxyz"``, ``"ase-db"``, ``"regconv"`` (a generated
            cache) or ``"arrays"``.
        metadata: JSON-able facts of the source (original units, keys, ...).
    """

    def __init__(
        self,
        z: np.ndarray,
        pos: np.ndarray,
        energy: np.ndarray,
        forces: np.ndarray,
        ptr: np.ndarray,
        *,
        source: str,
        format: str,
        metadata: dict[str, Any] | None = None,
        cell: np.ndarray | None = None,
        pbc: np.ndarray | None = None,
        stress: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.z = np.ascontiguousarray(z, dtype=np.int64)
        self.pos = np.ascontiguousarray(pos, dtype=np.float64)
        self.energy = np.ascontiguousarray(energy, dtype=np.float64)
        self.forces = np.ascontiguousarray(forces, dtype=np.float64)
        self.ptr = np.ascontiguousarray(ptr, dtype=np.int64)
        self.source, self.format = str(source), str(format)
        self.metadata = dict(metadata or {})
        f, a = self.energy.shape[0], self.z.shape[0]
        ok = (
            self.energy.ndim == 1
            and f > 0
            and self.ptr.shape == (f + 1,)
            and self.ptr[0] == 0
            and self.ptr[-1] == a
            and np.all(np.diff(self.ptr) > 0)
            and self.pos.shape == (a, 3)
            and self.forces.shape == (a, 3)
        )
        if not ok:
            raise ValueError(f"{self.source}: inconsistent frame arrays")
        if (cell is None) != (pbc is None):
            raise ValueError(f"{self.source}: cell and pbc come together")
        self.cell = None if cell is None else np.ascontiguousarray(cell, dtype=np.float64)
        self.pbc = None if pbc is None else np.ascontiguousarray(pbc, dtype=bool)
        self.stress = None if stress is None else np.ascontiguousarray(stress, dtype=np.float64)
        if self.cell is not None and (
            self.cell.shape != (f, 3, 3) or self.pbc.shape != (f, 3)
        ):
            raise ValueError(f"{self.source}: cell must be [F, 3, 3] and pbc [F, 3], F = {f}")
        if self.stress is not None:
            if self.stress.shape != (f, 3, 3):
                raise ValueError(f"{self.source}: stress must be [F, 3, 3], F = {f}")
            if self.pbc is None or not self.pbc.all():
                raise ValueError(f"{self.source}: stress needs cells periodic along all axes")

    @classmethod
    def from_stacked(
        cls,
        z: np.ndarray,
        pos: np.ndarray,
        energy: np.ndarray,
        forces: np.ndarray,
        *,
        source: str,
        format: str,
        metadata: dict[str, Any] | None = None,
    ) -> Frames:
        """Frames of one molecule: ``z [N]``, ``pos [F, N, 3]`` Å, ``energy [F]`` meV,
        ``forces [F, N, 3]`` meV/Å (already checked by the caller)."""
        f, n = pos.shape[:2]
        return cls(
            np.tile(np.asarray(z, dtype=np.int64), f),
            pos.reshape(f * n, 3),
            energy,
            forces.reshape(f * n, 3),
            np.arange(f + 1, dtype=np.int64) * n,
            source=source,
            format=format,
            metadata=metadata,
        )

    @classmethod
    def concatenate(
        cls,
        zs: Sequence[np.ndarray],
        positions: Sequence[np.ndarray],
        energies: Sequence[float],
        forces: Sequence[np.ndarray],
        *,
        source: str,
        format: str,
        metadata: dict[str, Any] | None = None,
        cells: Sequence[np.ndarray] | None = None,
        pbcs: Sequence[np.ndarray] | None = None,
        stresses: Sequence[np.ndarray] | None = None,
    ) -> Frames:
        """Frames from per-frame ``z [n_f]``, ``pos [n_f, 3]``, energy (scalar), ``forces
        [n_f, 3]`` (molecules may differ between frames), and optionally ``cell [3, 3]``,
        ``pbc [3]`` and ``stress [3, 3]``."""
        counts = np.array([len(z) for z in zs], dtype=np.int64)
        extra = {
            key: None if values is None else np.stack([np.asarray(v) for v in values])
            for key, values in (("cell", cells), ("pbc", pbcs), ("stress", stresses))
        }
        return cls(
            np.concatenate(zs),
            np.concatenate(positions),
            np.asarray(energies, dtype=np.float64),
            np.concatenate(forces),
            np.concatenate([[0], np.cumsum(counts)]),
            source=source,
            format=format,
            metadata=metadata,
            **extra,
        )

    @property
    def num_frames(self) -> int:
        return int(self.energy.shape[0])

    @property
    def natoms(self) -> np.ndarray:
        """Atoms per frame, ``[F]`` int64."""
        return np.diff(self.ptr)

    @property
    def same_molecule(self) -> bool:
        """True when every frame has the same atoms in the same order."""
        n = self.natoms
        if np.any(n != n[0]):
            return False
        return bool(np.all(self.z.reshape(-1, int(n[0])) == self.z[: n[0]]))

    @property
    def periodic(self) -> bool:
        """True when some frame is periodic along some axis."""
        return self.pbc is not None and bool(self.pbc.any())

    def frame_arrays(self, idx: int) -> dict[str, np.ndarray]:
        """The float64 arrays of frame ``idx``: ``z [n]``, ``pos [n, 3]``, ``energy []``,
        ``forces [n, 3]``, and ``cell [3, 3]``, ``pbc [3]``, ``stress [3, 3]`` where held."""
        idx = self._check_index(idx)
        a, b = self.ptr[idx], self.ptr[idx + 1]
        out = {
            "z": self.z[a:b],
            "pos": self.pos[a:b],
            "energy": self.energy[idx],
            "forces": self.forces[a:b],
        }
        for key in ("cell", "pbc", "stress"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value[idx]
        return out

    def _check_index(self, idx: int) -> int:
        idx = int(idx)
        if not -self.num_frames <= idx < self.num_frames:
            raise IndexError(f"frame {idx} out of range for {self.num_frames} frames")
        return idx % self.num_frames

    def __len__(self) -> int:
        return self.num_frames

    def __getitem__(self, idx: int) -> Data:
        idx = self._check_index(idx)
        a, b = self.ptr[idx], self.ptr[idx + 1]
        data = Data(
            z=torch.from_numpy(self.z[a:b].copy()),
            pos=torch.from_numpy(self.pos[a:b]).float(),
            energy=torch.tensor([self.energy[idx]], dtype=torch.float64),
            forces=torch.from_numpy(self.forces[a:b]).float(),
            frame=torch.tensor([idx], dtype=torch.long),
        )
        if self.cell is not None:
            data.cell = torch.from_numpy(self.cell[idx : idx + 1]).float()  # [1, 3, 3]
            data.pbc = torch.from_numpy(self.pbc[idx : idx + 1].copy())  # [1, 3]
        if self.stress is not None:
            data.stress = torch.from_numpy(self.stress[idx : idx + 1]).float()  # [1, 3, 3]
        return data

    def __repr__(self) -> str:
        n = self.natoms
        atoms = str(n[0]) if np.all(n == n[0]) else f"{n.min()}..{n.max()}"
        kind = ", periodic" if self.periodic else ""
        return f"Frames({self.format}{kind}, frames={self.num_frames}, atoms={atoms}, {self.source})"
