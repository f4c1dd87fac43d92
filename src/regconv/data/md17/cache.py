"""The generated MD17 frames cached as an atomically written ``.npz`` with a JSON sidecar.

``cache_dir()/md17/<molecule>-seed<S>-n<frames>-every<K>-T<T>K.npz`` holds ``z [N]``,
``pos [F, N, 3]`` Å, ``energy [F]`` meV, ``forces [F, N, 3]`` meV/Å, ``md_step [F]``; the sidecar
``.json`` the :func:`protocol`, the file's SHA-256 and the arrays' (``arrays_sha256``). A
missing, corrupt or stale (protocol changed) cache is rebuilt with a message.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from regconv.data.md17 import generate as gen
from regconv.data.md17.catalog import MOLECULES, check_molecule
from regconv.utils.cache import cache_problem as sidecar_problem
from regconv.utils.cache import say
from regconv.utils.checks import check_int, check_positive
from regconv.utils.io import atomic_write_bytes, atomic_write_text, cache_dir

__all__ = [
    "FORMAT_VERSION",
    "cache_path",
    "cache_problem",
    "ensure_generated",
    "load_generated",
    "protocol",
]

FORMAT_VERSION = 1
"""Bump when the stored arrays or the protocol change: older caches become stale."""


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("tblite", "rdkit", "ase"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def protocol(
    molecule: str,
    seed: int = 0,
    *,
    frames: int = gen.FRAMES,
    every: int = gen.EVERY,
    equilibration: int = gen.EQUILIBRATION,
    temperature: float = gen.TEMPERATURE_K,
) -> dict[str, Any]:
    """Everything that determines the generated frames; a cache is reused only if its sidecar
    records an equal protocol (software versions included)."""
    molecule = check_molecule(molecule)
    return {
        "format_version": FORMAT_VERSION,
        "molecule": molecule,
        "smiles": MOLECULES[molecule],
        "start": "rdkit AddHs, EmbedMolecule(randomSeed=seed), MMFFOptimizeMolecule(maxIters=2000)",
        "method": gen.METHOD,
        "seed": check_int("seed", seed, 0),
        "frames": check_int("frames", frames, 1),
        "every": check_int("every", every, 1),
        "equilibration": check_int("equilibration", equilibration, 0),
        "temperature_K": check_positive("temperature", temperature),
        "timestep_fs": gen.TIMESTEP_FS,
        "friction_per_fs": gen.FRICTION_PER_FS,
        "dynamics": "ase Langevin(fixcm=False) + FixCom; thermalize_momenta; "
        "SeedSequence(seed).spawn(2) -> PCG64 (momenta, noise)",
        "units": {"pos": "A", "energy": "meV", "forces": "meV/A"},
        "software": _versions(),
    }


def cache_path(
    molecule: str,
    seed: int = 0,
    *,
    frames: int = gen.FRAMES,
    every: int = gen.EVERY,
    temperature: float = gen.TEMPERATURE_K,
    root: str | os.PathLike | None = None,
) -> Path:
    """The ``.npz`` of a generated set: ``<root>/<molecule>-seed<S>-n<frames>-every<K>-T<T>K.npz``,
    ``root`` defaulting to ``regconv.utils.io.cache_dir() / "md17"``."""
    molecule = check_molecule(molecule)
    seed = check_int("seed", seed, 0)
    frames, every = check_int("frames", frames, 1), check_int("every", every, 1)
    temperature = check_positive("temperature", temperature)
    base = Path(root) if root is not None else cache_dir() / "md17"
    return base / f"{molecule}-seed{seed}-n{frames}-every{every}-T{temperature:g}K.npz"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def cache_problem(path: Path, proto: dict[str, Any]) -> str | None:
    """Why the cache at ``path`` cannot be used with ``proto``, or ``None`` if it verifies."""
    return sidecar_problem(path, _sidecar(path), proto, "file_sha256")


def _read(path: Path, data_sha256: str | None) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    if data_sha256 is not None and gen.arrays_sha256(arrays) != data_sha256:
        raise ValueError(f"{path}: the arrays' checksum does not match its sidecar")
    return arrays


def _say(msg: str, verbose: bool) -> None:
    say("regconv.md17", msg, verbose)


def ensure_generated(
    molecule: str,
    seed: int = 0,
    *,
    frames: int = gen.FRAMES,
    every: int = gen.EVERY,
    equilibration: int = gen.EQUILIBRATION,
    temperature: float = gen.TEMPERATURE_K,
    root: str | os.PathLike | None = None,
    force: bool = False,
    verbose: bool = True,
) -> Path:
    """Make sure the cache of this generated set verifies (else generate it, with a message on
    stderr saying why: missing, corrupt, stale or ``force``) and return the ``.npz`` path."""
    proto = protocol(
        molecule,
        seed,
        frames=frames,
        every=every,
        equilibration=equilibration,
        temperature=temperature,
    )
    path = cache_path(
        molecule, seed, frames=frames, every=every, temperature=temperature, root=root
    )
    problem = "forced rebuild" if force else cache_problem(path, proto)
    if problem is None:
        return path
    if problem != "not cached":
        print(f"[regconv.md17] {path}: {problem}; rebuilding it", file=sys.stderr, flush=True)
    _say(f"generating {path.name} in {path.parent}", verbose)
    t0 = time.perf_counter()
    arrays = gen.generate_frames(
        proto["molecule"],
        frames=frames,
        every=every,
        equilibration=equilibration,
        seed=seed,
        temperature=temperature,
        verbose=verbose,
    )
    seconds = time.perf_counter() - t0
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    blob = buf.getvalue()
    atomic_write_bytes(path, blob)
    sidecar = {
        "protocol": proto,
        "file": path.name,
        "file_sha256": hashlib.sha256(blob).hexdigest(),
        "data_sha256": gen.arrays_sha256(arrays),
        "generation_seconds": round(seconds, 3),
        "num_atoms": int(arrays["z"].shape[0]),
    }
    atomic_write_text(_sidecar(path), json.dumps(sidecar, indent=2) + "\n")
    _say(f"wrote {path} ({seconds:.1f} s)", verbose)
    return path


def load_generated(
    molecule: str,
    seed: int = 0,
    *,
    frames: int = gen.FRAMES,
    every: int = gen.EVERY,
    equilibration: int = gen.EQUILIBRATION,
    temperature: float = gen.TEMPERATURE_K,
    root: str | os.PathLike | None = None,
    verbose: bool = True,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(arrays, sidecar)`` of a generated set, generated on first use (see
    :func:`ensure_generated`); the arrays' checksum is verified on every load.

    Shapes: ``z [N]``, ``pos [F, N, 3]``, ``energy [F]``, ``forces [F, N, 3]``, ``md_step [F]``.
    """
    kwargs = dict(frames=frames, every=every, temperature=temperature, root=root)
    path = ensure_generated(molecule, seed, equilibration=equilibration, verbose=verbose, **kwargs)
    meta = json.loads(_sidecar(path).read_text())
    try:
        return _read(path, meta.get("data_sha256")), meta
    except Exception as e:  # a file changed between the check and the read
        print(f"[regconv.md17] {path}: unreadable ({e}); rebuilding it", file=sys.stderr)
        path = ensure_generated(
            molecule, seed, equilibration=equilibration, force=True, verbose=verbose, **kwargs
        )
        meta = json.loads(_sidecar(path).read_text())
        return _read(path, meta.get("data_sha256")), meta
