"""The generated copper set cached as an atomically written extended XYZ file with a JSON
sidecar (protocol, software versions, SHA-256 of the file), read back by the energy + force
readers (:func:`regconv.data.md17.read_frames`, which take its ``Lattice``, ``pbc`` and
``stress``).

``cache_dir()/crystals/copper-emt-seed<S>-n<frames>-every<K>-eq<E>.xyz``; a missing, corrupt or stale
(protocol changed) cache is rebuilt with a message.
"""

from __future__ import annotations

import io
import json
import os
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from regconv.data.crystals import generate as gen
from regconv.utils.cache import cache_problem, say, sha256_file
from regconv.utils.checks import check_int
from regconv.utils.io import atomic_write_text, cache_dir

__all__ = ["copper_path", "copper_protocol", "ensure_copper"]

FORMAT_VERSION = 1
"""Bump when the stored file or the protocol change: older caches become stale."""


def copper_protocol(
    seed: int = 0,
    *,
    frames: int = gen.FRAMES_PER_SEGMENT,
    every: int = gen.EVERY,
    equilibration: int = gen.EQUILIBRATION,
) -> dict[str, Any]:
    """Everything that determines the generated frames (software versions included)."""
    try:
        ase_version = metadata.version("ase")
    except metadata.PackageNotFoundError:
        ase_version = "missing"
    return {
        "format_version": FORMAT_VERSION,
        "system": "fcc Cu, 2x2x2 conventional cell (32 atoms)",
        "potential": "ase.calculators.emt.EMT",
        "lattice_a": gen.LATTICE_A,
        "segments": [[s.kind, s.temperature] for s in gen.SEGMENTS],
        "seed": check_int("seed", seed, 0),
        "frames_per_segment": check_int("frames", frames, 1),
        "every": check_int("every", every, 1),
        "equilibration": check_int("equilibration", equilibration, 0),
        "timestep_fs": gen.TIMESTEP_FS,
        "friction_per_fs": gen.FRICTION_PER_FS,
        "units": {"pos": "A", "energy": "eV", "forces": "eV/A", "stress": "eV/A^3"},
        "software": {"ase": ase_version},
    }


def copper_path(
    seed: int = 0,
    *,
    frames: int = gen.FRAMES_PER_SEGMENT,
    every: int = gen.EVERY,
    equilibration: int = gen.EQUILIBRATION,
    root: str | os.PathLike | None = None,
) -> Path:
    """``<root>/copper-emt-seed<S>-n<frames>-every<K>-eq<E>.xyz``, ``root`` defaulting to
    ``regconv.utils.io.cache_dir() / "crystals"``."""
    seed, frames = check_int("seed", seed, 0), check_int("frames", frames, 1)
    every = check_int("every", every, 1)
    equilibration = check_int("equilibration", equilibration, 0)
    base = Path(root) if root is not None else cache_dir() / "crystals"
    return base / f"copper-emt-seed{seed}-n{frames}-every{every}-eq{equilibration}.xyz"


def ensure_copper(
    seed: int = 0,
    *,
    frames: int = gen.FRAMES_PER_SEGMENT,
    every: int = gen.EVERY,
    equilibration: int = gen.EQUILIBRATION,
    root: str | os.PathLike | None = None,
    force: bool = False,
    verbose: bool = True,
) -> Path:
    """Make sure the cached copper set verifies (else generate it, saying why: missing,
    corrupt, stale or ``force``) and return the path of its extended XYZ file."""
    proto = copper_protocol(seed, frames=frames, every=every, equilibration=equilibration)
    path = copper_path(seed, frames=frames, every=every, equilibration=equilibration, root=root)
    sidecar = path.with_suffix(".json")
    problem = "forced rebuild" if force else cache_problem(path, sidecar, proto, "file_sha256")
    if problem is None:
        return path
    if problem != "not cached":
        say("regconv.crystals", f"{path}: {problem}; rebuilding it", True)
    say("regconv.crystals", f"generating {path.name} in {path.parent}", verbose)
    from ase.io import write

    t0 = time.perf_counter()
    atoms = gen.generate_copper(
        seed=seed, frames=frames, every=every, equilibration=equilibration, verbose=verbose
    )
    seconds = time.perf_counter() - t0
    text = io.StringIO()
    write(text, atoms, format="extxyz")
    atomic_write_text(path, text.getvalue())
    record = {
        "protocol": proto,
        "file": path.name,
        "file_sha256": sha256_file(path),
        "generation_seconds": round(seconds, 3),
        "num_frames": len(atoms),
    }
    atomic_write_text(sidecar, json.dumps(record, indent=2) + "\n")
    say("regconv.crystals", f"wrote {path} ({len(atoms)} frames, {seconds:.1f} s)", verbose)
    return path
