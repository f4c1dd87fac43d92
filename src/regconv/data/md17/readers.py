"""Readers of energy + force data: rMD17 and sGDML ``.npz``, extended XYZ, ASE databases.

Every reader returns :class:`~regconv.data.md17.frames.Frames` in Å, meV and meV/Å, or raises
``ValueError`` naming the file (and the key, frame, line or row) for bad input; never NaN or
garbage. Extended XYZ files and ASE databases are parsed by the one molecule reader,
:mod:`regconv.data.molecules` (elements, positions, the rest of each record); this module reads
the energy and forces from there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from regconv.data.md17.cells import frame_cell, frame_stress
from regconv.data.md17.frames import Frames, check_atomic_numbers
from regconv.data.md17.published import available_folds
from regconv.data.md17.units import canonical_unit, to_mev
from regconv.data.molecules import Molecule, read_db, read_xyz

__all__ = [
    "FORMATS",
    "NPZ_KEYS",
    "read_ase_db",
    "read_extxyz",
    "read_frames",
    "read_npz",
]

NPZ_KEYS: dict[str, tuple[str, str, str, str]] = {
    # format: (atomic numbers [N], positions [F, N, 3], energies [F], forces [F, N, 3])
    "rmd17": ("nuclear_charges", "coords", "energies", "forces"),
    "sgdml": ("z", "R", "E", "F"),
    "regconv": ("z", "pos", "energy", "forces"),  # a generated cache (meV, meV/Å)
}
_NPZ_UNITS = {"rmd17": "kcal/mol", "sgdml": "kcal/mol", "regconv": "meV"}
FORMATS = ("rmd17", "sgdml", "regconv", "extxyz", "ase-db")
_SUFFIX_FORMAT = {".xyz": "extxyz", ".extxyz": "extxyz", ".db": "ase-db"}


def _finite(values: np.ndarray, where: str, key: str) -> None:
    """``ValueError`` naming the first frame with a non-finite entry of ``values [F, ...]``."""
    bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
    if bad.any():
        raise ValueError(f"{where}: key {key!r} is not finite at frame {int(np.argmax(bad))}")


def _npz_format(keys: set[str], where: str) -> str:
    """The layout whose keys ``keys`` hold, else the one they share most keys with (its missing
    keys are reported by the caller); ``ValueError`` if they share fewer than two with any."""
    overlap = {fmt: len(set(need) & keys) for fmt, need in NPZ_KEYS.items()}
    best = max(overlap, key=overlap.get)
    if overlap[best] >= 2:
        return best
    expected = "; ".join(f"{fmt}: {', '.join(k)}" for fmt, k in NPZ_KEYS.items())
    raise ValueError(f"{where}: unknown .npz layout, keys {sorted(keys)}; expected ({expected})")


def _npz_string(arrays: dict[str, np.ndarray], key: str) -> str | None:
    if key not in arrays:
        return None
    value = arrays[key]
    return str(value.item() if value.ndim == 0 else value.reshape(-1)[0])


def read_npz(path: str | os.PathLike, format: str | None = None) -> Frames:
    """Frames of an rMD17 (``nuclear_charges, coords, energies, forces``), sGDML / original MD17
    (``z, R, E, F``) or generated (``z, pos, energy, forces``) ``.npz`` file.

    rMD17 and sGDML are kcal/mol and kcal/mol/Å (sGDML files saying ``e_unit`` / ``r_unit`` are
    read in those units); generated files are meV and meV/Å. ``format`` defaults to the layout
    the keys reveal. The rMD17 folds found next to the file are listed in
    ``metadata["rmd17_folds"]``.

    Shapes: ``z [N]``, positions ``[F, N, 3]``, energies ``[F]`` (sGDML ``[F, 1]``), forces
    ``[F, N, 3]``.
    """
    path = Path(path)
    where = str(path)
    wanted = {k for keys in NPZ_KEYS.values() for k in keys} | {"e_unit", "r_unit"}
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: np.asarray(f[k]) for k in f.files if k in wanted}
            keys = set(f.files)
    except Exception as e:  # BadZipFile, EOFError, OSError, pickled (object) arrays, ...
        raise ValueError(f"{where}: not a readable .npz file ({type(e).__name__}: {e})") from e
    fmt = _npz_format(keys, where) if format is None else format
    if fmt not in NPZ_KEYS:
        raise ValueError(f"{where}: format {fmt!r} is not an .npz format")
    missing = [k for k in NPZ_KEYS[fmt] if k not in keys]
    if missing:
        raise ValueError(
            f"{where}: missing key(s) {missing} of the {fmt} layout (found {sorted(keys)})"
        )
    kz, kr, ke, kf = NPZ_KEYS[fmt]
    z, pos, energy, forces = (arrays[k] for k in (kz, kr, ke, kf))
    e_unit = _npz_string(arrays, "e_unit") if fmt == "sgdml" else None
    r_unit = _npz_string(arrays, "r_unit") if fmt == "sgdml" else None

    if r_unit is not None and r_unit.strip().lower() not in ("a", "ang", "angstrom", "å"):
        raise ValueError(f"{where}: key 'r_unit' is {r_unit!r}; only Å is supported")
    try:
        energy_unit = canonical_unit(e_unit) if e_unit is not None else _NPZ_UNITS[fmt]
    except ValueError as e:
        raise ValueError(f"{where}: key 'e_unit': {e}") from None
    force_unit = canonical_unit(f"{energy_unit}/A")
    z = check_atomic_numbers(z, f"{where}: key {kz!r}")
    n = z.shape[0]
    if pos.ndim != 3 or pos.shape[1:] != (n, 3) or pos.shape[0] == 0:
        raise ValueError(
            f"{where}: key {kr!r} has shape {pos.shape}, expected (frames, {n}, 3) "
            f"({n} atoms in {kz!r})"
        )
    frames = pos.shape[0]
    if fmt == "sgdml" and energy.ndim == 2 and energy.shape[1] == 1:
        energy = energy[:, 0]
    if energy.shape != (frames,):
        raise ValueError(
            f"{where}: key {ke!r} has shape {energy.shape}, expected ({frames},) "
            f"(one energy per frame of {kr!r})"
        )
    if forces.shape != pos.shape:
        raise ValueError(
            f"{where}: key {kf!r} has shape {forces.shape}, expected {pos.shape} (as {kr!r})"
        )
    for key, arr in ((kr, pos), (ke, energy), (kf, forces)):
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"{where}: key {key!r} is not numeric (dtype {arr.dtype})")
        _finite(arr, where, key)
    metadata: dict[str, Any] = {
        "energy_unit": energy_unit,
        "force_unit": force_unit,
        "keys": [kz, kr, ke, kf],
    }
    if fmt == "rmd17":
        metadata["rmd17_folds"] = available_folds(path)
    return Frames.from_stacked(
        z,
        pos.astype(np.float64),
        to_mev(energy, energy_unit),
        to_mev(forces, force_unit),
        source=where,
        format=fmt,
        metadata=metadata,
    )


def _frame_values(
    n: int, energy: Any, forces: Any, where: str, energy_key: str, forces_key: str
) -> tuple[float, np.ndarray]:
    """The checked energy (a finite scalar; a number string of an XYZ comment line is read) and
    forces (finite ``[n, 3]``) of one frame."""
    if isinstance(energy, str):
        try:
            energy = float(energy)
        except ValueError:
            pass  # reported below
    e = np.asarray(energy)
    if e.dtype.kind not in "fiu" or e.size != 1:
        raise ValueError(f"{where}: energy {energy_key!r} is not one number: {energy!r}")
    e = float(e.reshape(()))
    if not np.isfinite(e):
        raise ValueError(f"{where}: energy {energy_key!r} is not finite ({e})")
    f = np.asarray(forces)
    if f.dtype.kind not in "fiu" or f.shape != (n, 3):
        raise ValueError(
            f"{where}: forces {forces_key!r} have shape {f.shape}, expected ({n}, 3) for {n} atoms"
        )
    if not np.isfinite(f).all():
        raise ValueError(f"{where}: forces {forces_key!r} are not finite")
    return e, f.astype(np.float64)


def _lookup(properties: dict[str, Any], key: str, what: str, where: str) -> Any:
    if key in properties:
        return properties[key]
    found = ", ".join(map(str, sorted(properties))) or "none"
    raise ValueError(f"{where}: no {what} under key {key!r} (found: {found})")


def _labelled_frames(
    mols: list[Molecule],
    path: Path,
    fmt: str,
    energy_key: str,
    forces_key: str,
    stress_key: str = "stress",
    virial_key: str = "virial",
) -> Frames:
    """Frames of molecules read by :mod:`regconv.data.molecules` whose ``properties`` hold the
    energy (eV) ``energy_key`` and the forces (eV/Å) ``forces_key`` of each frame, and where
    given the cell, pbc and stress (``stress_key``, eV/Å^3) or virial (``virial_key``, eV) of
    periodic frames (:mod:`regconv.data.md17.cells`)."""
    zs, ps, es, fs, cells, pbcs, stresses = [], [], [], [], [], [], []
    for i, mol in enumerate(mols):
        where = f"{path} frame {i}" if fmt == "extxyz" else mol.where
        energy = _lookup(mol.properties, energy_key, "energy", where)
        forces = _lookup(mol.properties, forces_key, "forces", where)
        e, f = _frame_values(mol.z.shape[0], energy, forces, where, energy_key, forces_key)
        zs.append(mol.z), ps.append(mol.pos), es.append(e), fs.append(f)
        cell, pbc = frame_cell(mol.properties, where)
        cells.append(cell), pbcs.append(pbc)
        stresses.append(frame_stress(mol.properties, where, cell, pbc,
                                     stress_key=stress_key, virial_key=virial_key))  # fmt: skip
    periodic = any(c is not None for c in cells)
    missing = [k for k, t in enumerate(stresses) if t is None]
    with_stress = not missing
    extra: dict[str, Any] = {}
    partial = {}
    if missing and len(missing) < len(mols):  # no stress target; training on it says which
        partial = {"stress_frames": len(mols) - len(missing), "stress_missing_frame": missing[0]}
    if periodic:
        extra["cells"] = [np.zeros((3, 3)) if c is None else c for c in cells]
        extra["pbcs"] = [np.zeros(3, dtype=bool) if b is None else b for b in pbcs]
    if with_stress:
        extra["stresses"] = [to_mev(t, "eV") for t in stresses]  # eV/Å^3 -> meV/Å^3
    return Frames.concatenate(
        zs,
        ps,
        to_mev(np.asarray(es), "eV"),
        [to_mev(f, "eV/A") for f in fs],
        source=str(path),
        format=fmt,
        metadata={
            "energy_unit": "eV",
            "force_unit": "eV/A",
            "energy_key": energy_key,
            "forces_key": forces_key,
            **({"stress_unit": "eV/A^3", "stress_key": stress_key} if with_stress else {}),
            **partial,
        },
        **extra,
    )


def read_extxyz(
    path: str | os.PathLike,
    *,
    energy_key: str = "energy",
    forces_key: str = "forces",
    stress_key: str = "stress",
    virial_key: str = "virial",
) -> Frames:
    """Frames of an extended XYZ file in eV and eV/Å (:func:`regconv.data.molecules.read_xyz`,
    any element).

    The energy is the comment line's ``energy_key=...``, the forces the per-atom column
    ``forces_key`` (``Properties=...:forces:R:3``); ASE writes a calculator's results under the
    default names ``energy`` and ``forces``. Periodic frames carry ``Lattice=`` and ``pbc=``,
    and their stress ``stress_key=`` (eV/Å^3) or virial ``virial_key=`` (eV)
    (:mod:`regconv.data.md17.cells`).
    """
    path = Path(path)
    mols = read_xyz(path, elements="any")
    return _labelled_frames(mols, path, "extxyz", energy_key, forces_key, stress_key, virial_key)


def read_ase_db(
    path: str | os.PathLike,
    *,
    energy_key: str = "energy",
    forces_key: str = "forces",
    stress_key: str = "stress",
    virial_key: str = "virial",
) -> Frames:
    """Frames of an ASE database (every row in id order) in eV and eV/Å
    (:func:`regconv.data.molecules.read_db`, any element).

    The energy is the row's key-value pair (or ``data`` entry) ``energy_key``, the forces the
    row's ``data[forces_key]``; under the default names the stored calculator results
    (``row.energy``, ``row.forces``, ``row.stress``) are read when the row has no such entry.
    Periodic rows carry their cell and pbc.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(path)
    mols = read_db(path, elements="any")
    return _labelled_frames(mols, path, "ase-db", energy_key, forces_key, stress_key, virial_key)


def read_frames(
    path: str | os.PathLike,
    *,
    energy_key: str = "energy",
    forces_key: str = "forces",
    stress_key: str = "stress",
    virial_key: str = "virial",
    format: str | None = None,
) -> Frames:
    """Read energy + force frames from ``path`` in Å, meV and meV/Å.

    ``format`` (default: from the suffix, and for ``.npz`` from its keys): ``"rmd17"``,
    ``"sgdml"``, ``"regconv"`` (``.npz``), ``"extxyz"`` (``.xyz``, ``.extxyz``) or ``"ase-db"``
    (``.db``). ``energy_key`` / ``forces_key`` name the per-frame energy and per-atom forces of
    extended XYZ and ASE databases (like MACE's ``--energy_key`` / ``--forces_key``);
    ``stress_key`` / ``virial_key`` the stress (eV/Å^3) or virial (eV) of periodic frames.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an unknown format or suffix, or bad content (naming the file and the key,
            frame or row).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if format is None:
        format = "npz" if path.suffix.lower() == ".npz" else _SUFFIX_FORMAT.get(path.suffix.lower())
        if format is None:
            raise ValueError(
                f"{path}: cannot tell the format from the suffix {path.suffix!r}; use .npz, .xyz, "
                f".extxyz or .db, or pass format= (one of {', '.join(FORMATS)})"
            )
    elif format not in FORMATS:
        raise ValueError(f"{path}: unknown format {format!r}; valid: {', '.join(FORMATS)}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file")
    if format in ("npz", *NPZ_KEYS):
        return read_npz(path, None if format == "npz" else format)
    keys = {"energy_key": energy_key, "forces_key": forces_key, "stress_key": stress_key,
            "virial_key": virial_key}  # fmt: skip
    if format == "extxyz":
        return read_extxyz(path, **keys)
    return read_ase_db(path, **keys)
