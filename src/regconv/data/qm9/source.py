r"""Locating the qm9pack CSVs and parsing them into arrays in the published units.

Source
------
The CSV files of the PyPI package ``qm9pack==1.0.3`` (``<site-packages>/qm9pack/data/
qm9_part{1,2,3}.csv``). The package folder is located with :func:`importlib.util.find_spec`, which
does not execute ``qm9pack/__init__.py`` (that file imports ``pkg_resources`` and fails on current
setuptools). The CSVs are parsed once into concatenated arrays (:func:`parse_qm9_csv`) and cached
(:func:`regconv.data.qm9.cache.load_qm9_tensors`).

Molecules are sorted by their QM9 id (the ``Index`` column, ``gdb_<id>`` in the original release):
ids lie in 1..133,885 and 3,054 ids are absent (the molecules that failed the consistency check of
the original QM9 paper), leaving 130,831.

The target conversion (:func:`targets_from_raw`, table in :mod:`regconv.data.qm9.constants`) runs
in float64 and only the result is cast to float32: a total energy of about -1e7 meV has a float32
spacing of 1 meV, an atomisation energy of -1e5 meV one of 0.008 meV.
"""

from __future__ import annotations

import csv
import importlib.util
import operator
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from regconv.data.qm9.constants import (
    ATOM_REFS_HA,
    ATOMISATION_COLUMNS,
    CSV_TARGET_COLUMNS,
    ELEMENTS,
    HARTREE_COLUMNS,
    HARTREE_TO_MEV,
    KNOWN_ELEMENTS,
)

__all__ = [
    "INSTALL_HINT",
    "PART_GLOB",
    "QM9PACK_MODULE",
    "parse_qm9_csv",
    "qm9pack_data_dir",
    "source_files",
    "targets_from_raw",
]

QM9PACK_MODULE = "qm9pack"
"""The package holding the CSVs (a module-level constant so that tests can point it elsewhere)."""
INSTALL_HINT = "pip install qm9pack==1.0.3"
PART_GLOB = "qm9_part*.csv"


def qm9pack_data_dir() -> Path:
    """The ``data`` folder of the installed ``qm9pack`` package, found without importing it.

    Raises:
        ImportError: ``qm9pack`` is not installed or its data files are missing.
    """
    try:
        spec = importlib.util.find_spec(QM9PACK_MODULE)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ImportError(
            f"the QM9 data set needs the package {QM9PACK_MODULE!r}, which is not installed: "
            f"{INSTALL_HINT}"
        )
    for loc in locations:
        data = Path(loc) / "data"
        if sorted(data.glob(PART_GLOB)):
            return data
    raise ImportError(
        f"the package {QM9PACK_MODULE!r} at {locations[0]} has no data/{PART_GLOB} files; "
        f"reinstall it: {INSTALL_HINT} --force-reinstall"
    )


def source_files(source_dir: Path) -> list[Path]:
    """The ``qm9_part*.csv`` files of ``source_dir``, sorted; ``FileNotFoundError`` if none."""
    files = sorted(source_dir.glob(PART_GLOB))
    if not files:
        raise FileNotFoundError(f"no {PART_GLOB} files in {source_dir}")
    return files


# ----------------------------------------------------------------------------------------------
# Parsing
# ----------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Raw string columns of all CSV rows, in file order, with their provenance."""

    ids: list[str] = field(default_factory=list)
    n_atoms: list[str] = field(default_factory=list)
    elements: list[str] = field(default_factory=list)
    xyz: list[str] = field(default_factory=list)
    targets: list[tuple[str, ...]] = field(default_factory=list)
    file_no: list[int] = field(default_factory=list)
    line_no: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _read_csv(path: Path, rows: _Rows) -> None:
    needed = ["Index", "N_atoms", "Elements", "XYZ_Ang", *CSV_TARGET_COLUMNS]
    file_no = len(rows.files)
    rows.files.append(path.name)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ValueError(f"{path}: empty file, expected a QM9 CSV with a header row")
        col = {name.strip(): i for i, name in enumerate(header)}
        missing = [c for c in needed if c not in col]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}")
        ncol = len(header)
        i_id, i_n, i_el, i_xyz = (col[c] for c in ("Index", "N_atoms", "Elements", "XYZ_Ang"))
        get_targets = operator.itemgetter(*(col[c] for c in CSV_TARGET_COLUMNS))
        for row in reader:
            if len(row) != ncol:
                if not row:
                    continue
                raise ValueError(
                    f"{path.name} line {reader.line_num}: expected {ncol} fields, got {len(row)}"
                )
            rows.ids.append(row[i_id])
            rows.n_atoms.append(row[i_n])
            rows.elements.append(row[i_el])
            rows.xyz.append(row[i_xyz])
            rows.targets.append(get_targets(row))
            rows.file_no.append(file_no)
            rows.line_no.append(reader.line_num)


def _parse_floats(text: str) -> np.ndarray | None:
    """Comma-separated floats -> float64 array, or None if any token is not a number."""
    if not text:
        return np.zeros(0)
    try:
        with warnings.catch_warnings():
            # numpy reports a malformed token as a DeprecationWarning and returns a prefix
            warnings.simplefilter("error")
            return np.fromstring(text, dtype=np.float64, sep=",")
    except (ValueError, DeprecationWarning):
        return None
    except (AttributeError, TypeError):  # pragma: no cover - numpy without text fromstring
        try:
            return np.array(text.split(","), dtype=np.float64)
        except ValueError:
            return None


_STRIP_BRACKETS = str.maketrans("", "", "[] \t\n\r")
_STRIP_SYMBOLS = str.maketrans("", "", "[]'\" \t\n\r")


def parse_qm9_csv(source_dir: str | os.PathLike) -> dict[str, np.ndarray]:
    """Parse all ``qm9_part*.csv`` files in ``source_dir`` (no cache).

    Returns numpy arrays, molecules sorted by QM9 id:
    ``z`` [A] uint8, ``pos`` [A, 3] float32 (Å), ``ptr`` [M + 1] int64 (atoms of molecule m are
    ``ptr[m]:ptr[m+1]``), ``idx`` [M] int64 (QM9 id), ``y`` [M, 12] float32 (in the units of
    :mod:`regconv.data.qm9.constants`).

    Raises:
        ValueError: a malformed row, an unknown element, non-finite coordinates or targets, an
            atom count that disagrees with ``N_atoms``, or a duplicate id; the message names the
            molecule (QM9 id, file and line).
    """
    source_dir = Path(source_dir)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    rows = _Rows()
    for f in source_files(source_dir):
        _read_csv(f, rows)
    m = len(rows.ids)
    if m == 0:
        raise ValueError(f"no molecules in {source_dir}/{PART_GLOB}")

    def where(k: int) -> str:
        return f"{rows.files[rows.file_no[k]]} line {rows.line_no[k]}"

    def name(k: int) -> str:
        return f"QM9 molecule id {rows.ids[k].strip()} ({where(k)})"

    # ids and atom counts
    ids = np.empty(m, dtype=np.int64)  # [M]
    n_atoms = np.empty(m, dtype=np.int64)  # [M]
    for arr, col, what in ((ids, rows.ids, "Index"), (n_atoms, rows.n_atoms, "N_atoms")):
        try:
            arr[:] = np.array(col, dtype=np.int64)
        except (ValueError, OverflowError):
            for k, s in enumerate(col):
                try:
                    int(s)
                except ValueError:
                    raise ValueError(f"{where(k)}: {what} must be an integer, got {s!r}") from None
            raise
    bad = np.flatnonzero(ids < 1)
    if bad.size:
        raise ValueError(f"{name(bad[0])}: QM9 ids must be positive")
    bad = np.flatnonzero(n_atoms < 1)
    if bad.size:
        raise ValueError(
            f"{name(bad[0])}: a molecule needs at least one atom, N_atoms={n_atoms[bad[0]]}"
        )

    # per-molecule counts in the element and coordinate strings must agree with N_atoms
    for k in range(m):
        ne = rows.elements[k].count(",") + 1
        nx = rows.xyz[k].count("[") - 1
        if ne != n_atoms[k] or nx != n_atoms[k]:
            raise ValueError(
                f"{name(k)}: N_atoms={n_atoms[k]} but {ne} element(s) and {nx} position(s)"
            )
    ptr_file = np.zeros(m + 1, dtype=np.int64)  # [M + 1], file order
    np.cumsum(n_atoms, out=ptr_file[1:])
    total = int(ptr_file[-1])

    def molecule_of_atom(a: int) -> int:
        return int(np.searchsorted(ptr_file, a, side="right") - 1)

    # elements
    symbols = ",".join(rows.elements).translate(_STRIP_SYMBOLS).split(",")
    lookup = ELEMENTS.get
    z = np.fromiter((lookup(s, 0) for s in symbols), dtype=np.uint8, count=total)  # [A]
    bad = np.flatnonzero(z == 0)
    if bad.size:
        a = int(bad[0])
        raise ValueError(
            f"{name(molecule_of_atom(a))}: unknown element {symbols[a]!r}; {KNOWN_ELEMENTS}"
        )

    # coordinates
    flat = _parse_floats(",".join(rows.xyz).translate(_STRIP_BRACKETS))
    if flat is None or flat.size != 3 * total:
        for k in range(m):  # slow path, only to name the offending molecule
            vals = _parse_floats(rows.xyz[k].translate(_STRIP_BRACKETS))
            if vals is None or vals.size != 3 * n_atoms[k]:
                raise ValueError(
                    f"{name(k)}: malformed XYZ_Ang, expected {n_atoms[k]} [x,y,z] triples of "
                    f"numbers, got {rows.xyz[k][:200]!r}"
                )
        raise ValueError(f"{source_dir}: malformed XYZ_Ang column")  # pragma: no cover
    pos64 = flat.reshape(total, 3)  # [A, 3] float64
    bad = np.flatnonzero(~np.isfinite(pos64).all(axis=1))
    if bad.size:
        a = int(bad[0])
        k = molecule_of_atom(a)
        raise ValueError(
            f"{name(k)}: non-finite coordinates {pos64[a].tolist()} for atom {a - ptr_file[k]}"
        )

    # targets, float64 until the end
    try:
        raw = np.array(rows.targets, dtype=np.float64)  # [M, 12] in CSV units
    except ValueError:
        for k, t in enumerate(rows.targets):
            for c, s in zip(CSV_TARGET_COLUMNS, t, strict=True):
                try:
                    float(s)
                except ValueError:
                    raise ValueError(f"{name(k)}: {c} is not a number: {s!r}") from None
        raise
    bad_rows, bad_cols = np.nonzero(~np.isfinite(raw))
    if bad_rows.size:
        k, c = int(bad_rows[0]), int(bad_cols[0])
        raise ValueError(f"{name(k)}: non-finite {CSV_TARGET_COLUMNS[c]} = {raw[k, c]}")
    y64 = targets_from_raw(raw, z, ptr_file)  # [M, 12] float64, published units

    # sort by QM9 id
    order = np.argsort(ids, kind="stable")  # [M]
    ids_sorted = ids[order]
    dup = np.flatnonzero(ids_sorted[1:] == ids_sorted[:-1])
    if dup.size:
        first = [k for k in range(m) if ids[k] == ids_sorted[dup[0]]]
        raise ValueError(
            f"duplicate QM9 id {ids_sorted[dup[0]]} in {where(first[0])} and {where(first[1])}"
        )
    counts = n_atoms[order]
    ptr = np.zeros(m + 1, dtype=np.int64)  # [M + 1], id order
    np.cumsum(counts, out=ptr[1:])
    if np.array_equal(order, np.arange(m)):
        atom_order = slice(None)
    else:
        atom_order = np.repeat(ptr_file[:-1][order] - ptr[:-1], counts) + np.arange(total)
    return {
        "z": np.ascontiguousarray(z[atom_order]),
        "pos": np.ascontiguousarray(pos64[atom_order], dtype=np.float32),
        "ptr": ptr,
        "idx": ids_sorted,
        "y": np.ascontiguousarray(y64[order], dtype=np.float32),
    }


# ----------------------------------------------------------------------------------------------
# Units
# ----------------------------------------------------------------------------------------------


def _atom_refs_by_z() -> np.ndarray:
    """[10, 4] float64: (U0, U, H, G) reference in Ha, indexed by atomic number."""
    refs = np.zeros((10, 4), dtype=np.float64)
    for sym, vals in ATOM_REFS_HA.items():
        refs[ELEMENTS[sym]] = vals
    return refs


def targets_from_raw(raw: np.ndarray, z: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """CSV units -> published units (table in :mod:`regconv.data.qm9.constants`), in float64.

    Shapes: ``raw`` [M, 12] float64, ``z`` [A] atomic numbers, ``ptr`` [M + 1] (atoms of
    molecule m are ``ptr[m]:ptr[m+1]``) -> [M, 12] float64.

    Raises:
        ValueError: ``raw`` is not float64 (the atomisation energies need its precision).
    """
    if raw.dtype != np.float64:
        raise ValueError("targets must be converted in float64")
    m = raw.shape[0]
    y = raw.copy()  # [M, 12]
    y[:, HARTREE_COLUMNS] *= HARTREE_TO_MEV
    # Sum of isolated-atom references per molecule: counts of each element [M, 10] (exact small
    # integers) times references [10, 4], all float64.
    mol = np.repeat(np.arange(m), np.diff(ptr))  # [A] molecule of each atom
    counts = np.bincount(mol * 10 + z.astype(np.int64), minlength=m * 10).reshape(m, 10)
    ref_sum = counts.astype(np.float64) @ _atom_refs_by_z()  # [M, 4] Ha
    y[:, ATOMISATION_COLUMNS] = (raw[:, ATOMISATION_COLUMNS] - ref_sum) * HARTREE_TO_MEV
    return y
