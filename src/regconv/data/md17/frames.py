"""Frames (positions, energy, forces) of one or many molecules in one in-memory ``Dataset``.

Internal units: positions Å, energies meV, forces meV/Å.
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
    forces [n, 3] float32 meV/Å, frame [1] long)`` (``frame``: the frame's number in its source).
    The energy stays float64: totals reach 1e7 meV, where float32 steps are ~1 meV; subtract a
    reference (e.g. the training mean) before casting to float32.

    Shapes: ``z [A]`` int64, ``pos [A, 3]``, ``energy [F]``, ``forces [A, 3]`` float64,
    ``ptr [F + 1]`` int64 (``A`` atoms over all ``F`` frames).

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
    ) -> Frames:
        """Frames from per-frame ``z [n_f]``, ``pos [n_f, 3]``, energy (scalar), ``forces
        [n_f, 3]`` (molecules may differ between frames)."""
        counts = np.array([len(z) for z in zs], dtype=np.int64)
        return cls(
            np.concatenate(zs),
            np.concatenate(positions),
            np.asarray(energies, dtype=np.float64),
            np.concatenate(forces),
            np.concatenate([[0], np.cumsum(counts)]),
            source=source,
            format=format,
            metadata=metadata,
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

    def frame_arrays(self, idx: int) -> dict[str, np.ndarray]:
        """The float64 arrays of frame ``idx``: ``z [n]``, ``pos [n, 3]``, ``energy []``,
        ``forces [n, 3]``."""
        idx = self._check_index(idx)
        a, b = self.ptr[idx], self.ptr[idx + 1]
        return {
            "z": self.z[a:b],
            "pos": self.pos[a:b],
            "energy": self.energy[idx],
            "forces": self.forces[a:b],
        }

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
        return Data(
            z=torch.from_numpy(self.z[a:b].copy()),
            pos=torch.from_numpy(self.pos[a:b]).float(),
            energy=torch.tensor([self.energy[idx]], dtype=torch.float64),
            forces=torch.from_numpy(self.forces[a:b]).float(),
            frame=torch.tensor([idx], dtype=torch.long),
        )

    def __repr__(self) -> str:
        n = self.natoms
        atoms = str(n[0]) if np.all(n == n[0]) else f"{n.min()}..{n.max()}"
        return f"Frames({self.format}, frames={self.num_frames}, atoms={atoms}, {self.source})"
