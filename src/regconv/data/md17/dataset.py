"""The MD17 ``Dataset``: energy + force frames of a user file or of the generated GFN2-xTB sets.

Items: ``Data(z [N] long, pos [N, 3] float32 Å, energy [1] float64 meV, forces [N, 3] float32
meV/Å, frame [1] long)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from regconv.data.md17 import generate as gen
from regconv.data.md17.cache import load_generated
from regconv.data.md17.frames import Frames
from regconv.data.md17.readers import read_frames
from regconv.data.md17.splits import PARTS, SCHEMES, split_indices, split_record

__all__ = ["MD17", "MD17_SPLITS"]

MD17_SPLITS = (*PARTS, "all")


class MD17(torch.utils.data.Dataset):
    """Energy + force frames: a user file (``path``) or a generated GFN2-xTB set
    (``molecule``), exactly one of them; ``split`` of ``scheme`` (see
    :mod:`regconv.data.md17.splits`).

    The generated sets (:mod:`regconv.data.md17.generate`) are a GFN2-xTB surface, not rMD17's
    DFT one: numbers on them compare models with each other, not with published tables. They are
    generated on first use (minutes; progress on stderr) and cached.

    Args:
        path: an rMD17 / sGDML / generated ``.npz``, an extended XYZ or an ASE ``.db`` file
            (:func:`~regconv.data.md17.readers.read_frames`).
        molecule: one of :data:`~regconv.data.md17.catalog.MOLECULES` (generated set).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (every frame, file order).
        scheme: ``"ponita"``, ``"random"`` or ``"rmd17"`` (the published fold ``fold``; needs the
            split files beside the rMD17 ``path``).
        seed: the ``random`` scheme's permutation seed.
        energy_key, forces_key: names of the energy and forces in extended XYZ / ASE databases.
        fold: the published rMD17 fold (1..5).
        n_train, n_val: sizes of the ``random`` scheme's training and validation parts.
        frames, every, equilibration, temperature, generation_seed: the generated set's
            protocol (:func:`~regconv.data.md17.generate.generate_frames`).
        root: the folder of the generated caches (default ``cache_dir()/md17``).

    Attributes:
        frames: every frame of the source (:class:`~regconv.data.md17.frames.Frames`).
        indices: ``[len(self)]`` int64 frame numbers of this split.
        split_record: JSON-able record of the split
            (:func:`regconv.data.md17.splits.split_record`); ``None`` for ``split="all"``.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        molecule: str | None = None,
        split: str = "train",
        scheme: str = "ponita",
        seed: int = 0,
        energy_key: str = "energy",
        forces_key: str = "forces",
        *,
        stress_key: str = "stress",
        virial_key: str = "virial",
        fold: int = 1,
        n_train: int = 950,
        n_val: int = 50,
        frames: int = gen.FRAMES,
        every: int = gen.EVERY,
        equilibration: int = gen.EQUILIBRATION,
        temperature: float = gen.TEMPERATURE_K,
        generation_seed: int = 0,
        root: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        if (path is None) == (molecule is None):
            raise ValueError("MD17 needs exactly one of path= (a file) or molecule= (generated)")
        if split not in MD17_SPLITS:
            raise ValueError(f"unknown MD17 split {split!r}; valid: {', '.join(MD17_SPLITS)}")
        if scheme not in SCHEMES:
            raise ValueError(f"unknown MD17 split scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
        self.generated: dict[str, Any] | None = None
        if path is not None:
            self.frames = read_frames(path, energy_key=energy_key, forces_key=forces_key,
                                      stress_key=stress_key, virial_key=virial_key)  # fmt: skip
        else:
            arrays, sidecar = load_generated(
                molecule,
                generation_seed,
                frames=frames,
                every=every,
                equilibration=equilibration,
                temperature=temperature,
                root=root,
            )
            self.generated = sidecar
            self.frames = Frames.from_stacked(
                arrays["z"],
                arrays["pos"],
                arrays["energy"],
                arrays["forces"],
                source=f"generated {sidecar['file']} (GFN2-xTB)",
                format="regconv",
                metadata={"protocol": sidecar["protocol"], "data_sha256": sidecar["data_sha256"]},
            )
        self.split, self.scheme = split, scheme
        n = self.frames.num_frames
        source = Path(path) if path is not None else None
        if scheme == "rmd17" and (source is None or self.frames.format != "rmd17"):
            raise ValueError("scheme='rmd17' needs path= to an rMD17 .npz with its split files")
        opts = dict(seed=seed, source=source, fold=fold, n_train=n_train, n_val=n_val)
        if split == "all":
            self.indices = np.arange(n, dtype=np.int64)
            self.split_record: dict[str, Any] | None = None
        else:
            self.indices = split_indices(scheme, n, **opts)[split]
            self.split_record = split_record(scheme, n, **opts)
            if self.generated is not None:
                self.split_record["generated"] = self.generated["data_sha256"]

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def __getitem__(self, idx: int) -> Data:
        if not -len(self) <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} frames")
        return self.frames[int(self.indices[idx])]

    def __repr__(self) -> str:
        return (
            f"MD17({self.frames.source!r}, split={self.split!r}, scheme={self.scheme!r}, "
            f"n={len(self)})"
        )
