"""The charged N-body ``Dataset``: from the state at one frame, predict the positions at another."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch_geometric.data import Data

from regconv.data.nbody.files import ensure_split
from regconv.data.nbody.initial import SPLIT_SIZES, check_source, check_split
from regconv.data.nbody.physics import N_FRAMES, frame_time
from regconv.utils.checks import check_bool, check_int

__all__ = ["NBody"]


class NBody(torch.utils.data.Dataset):
    """Charged N-body data set: predict positions at ``frame_out`` from the state at
    ``frame_in``.

    Each item is a ``torch_geometric.data.Data`` with ``pos [5, 3]`` (positions at
    ``frame_in``), ``vec [5, 1, 3]`` (velocities at ``frame_in``), ``x [5, 1]`` (charges),
    ``y [5, 3]`` (positions at ``frame_out``) and ``charges [5]``, all float32. Frames are
    indexed 0..48 (frame ``k`` = after step ``100 (k + 1)``). The split is generated into the
    cache on first use (with a message on stderr) and loaded, after checksum verification,
    otherwise.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``.
        num_train: for ``'train'``, use the first ``num_train`` trajectories (``None``: all).
        frame_in, frame_out: input and target frames.
        root: directory of the cached splits (default ``cache_dir()/nbody``).
        source: ``'regconv'`` (our seeds, the default) or ``'published'`` (the initial states of
            the published data set, :func:`sample_published_initial_conditions`).
        galilean: build in the Galilean invariance of the dynamics (equal masses, no walls, a
            force and a clip that depend on relative positions only: adding ``u`` to every
            velocity moves every later position by ``u t``). Items then carry the velocities
            relative to their centre-of-mass velocity ``v_cm`` (``vec = v - v_cm``) and a
            reference prediction ``base [5, 3] = pos + T v_cm`` with ``T`` the time between the
            frames (``(frame_out - frame_in) * 100 * 0.001``); a model predicts ``y - base``.
            Off by default (the published protocol gives the raw velocities).
    """

    def __init__(
        self,
        split: str = "train",
        num_train: int | None = 3000,
        frame_in: int = 30,
        frame_out: int = 40,
        root: str | Path | None = None,
        galilean: bool = False,
        source: str = "regconv",
    ) -> None:
        super().__init__()
        check_split(split)
        check_source(source)
        frame_in = check_int("frame_in", frame_in, 0)
        frame_out = check_int("frame_out", frame_out, 0)
        if frame_in >= N_FRAMES or frame_out >= N_FRAMES:
            raise ValueError(
                f"frames must be in [0, {N_FRAMES - 1}], got frame_in={frame_in}, "
                f"frame_out={frame_out}"
            )
        if num_train is not None:
            num_train = check_int("num_train", num_train, 1)
            if split == "train" and num_train > SPLIT_SIZES["train"]:
                raise ValueError(
                    f"num_train={num_train} exceeds the {SPLIT_SIZES['train']} training "
                    "trajectories"
                )
        check_bool("galilean", galilean)
        self.split, self.frame_in, self.frame_out = split, frame_in, frame_out
        self.galilean = galilean
        self.source = source
        path = ensure_split(split, root, source=source)
        with np.load(path) as f:
            loc, vel, charges = f["loc"], f["vel"], f["charges"]  # [T, 49, 5, 3] x2, [T, 5]
        if split == "train" and num_train is not None:
            loc, vel, charges = loc[:num_train], vel[:num_train], charges[:num_train]
        self._pos = torch.from_numpy(loc[:, frame_in]).float()  # [T, 5, 3]
        v = vel[:, frame_in]  # [T, 5, 3] float64
        self._base = None
        if galilean:
            v_cm = v.mean(axis=1, keepdims=True)  # [T, 1, 3]
            v = v - v_cm
            base = loc[:, frame_in] + frame_time(frame_in, frame_out) * v_cm  # [T, 5, 3]
            self._base = torch.from_numpy(base).float()
        self._vec = torch.from_numpy(v).float().unsqueeze(2)  # [T, 5, 1, 3]
        self._y = torch.from_numpy(loc[:, frame_out]).float()  # [T, 5, 3]
        self._charges = torch.from_numpy(charges).float()  # [T, 5]

    def __len__(self) -> int:
        return self._pos.shape[0]

    def __getitem__(self, idx: int) -> Data:
        if not -len(self) <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} trajectories")
        q = self._charges[idx]  # [5]
        data = Data(
            pos=self._pos[idx],
            vec=self._vec[idx],
            x=q.unsqueeze(-1),
            y=self._y[idx],
            charges=q,
        )
        if self._base is not None:
            data.base = self._base[idx]
        return data

    def __repr__(self) -> str:
        return (
            f"NBody(split={self.split!r}, n={len(self)}, frame_in={self.frame_in}, "
            f"frame_out={self.frame_out}{', galilean=True' if self.galilean else ''}"
            f"{', source=' + repr(self.source) if self.source != 'regconv' else ''})"
        )
