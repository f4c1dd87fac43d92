r"""QM9: 130,831 small organic molecules (H, C, N, O, F; up to 29 atoms) with 12 DFT targets.

Source
------
The CSV files of the PyPI package ``qm9pack==1.0.3`` (``<site-packages>/qm9pack/data/
qm9_part{1,2,3}.csv``). The package folder is located with :func:`importlib.util.find_spec`, which
does not execute ``qm9pack/__init__.py`` (that file imports ``pkg_resources`` and fails on current
setuptools). The CSVs are parsed once into concatenated tensors and cached in
``regconv.utils.io.cache_dir()`` (see :func:`load_qm9_tensors`); a cached load takes well under
two seconds.

Molecules are sorted by their QM9 id (the ``Index`` column, ``gdb_<id>`` in the original release):
ids lie in 1..133,885 and 3,054 ids are absent (the molecules that failed the consistency check of
the original QM9 paper), leaving 130,831.

Targets
-------
``y`` has 12 columns, in this order, in the units of the published QM9 benchmarks
(``QM9_TARGETS`` holds ``(name, unit)``):

====  ======  =======  ==========  ==========================  ===================
 col  name    symbol   unit        CSV column                  conversion
====  ======  =======  ==========  ==========================  ===================
   0  mu      μ        D           Dipole_debye                none
   1  alpha   α        bohr^3      Polarizability_bohr3        none
   2  homo    ε_HOMO   meV         HOMO_au                     E x HA
   3  lumo    ε_LUMO   meV         LUMO_au                     E x HA
   4  gap     Δε       meV         HOMO_LUMO_gap_au            E x HA
   5  r2      ⟨R²⟩     bohr^2      R2_bohr2                    none
   6  zpve    ZPVE     meV         ZPVE_au                     E x HA
   7  u0      U0       meV         InternalEnergy_0K_au        (E - Σ E_ref) x HA
   8  u       U        meV         InternalEnergy_298K_au      (E - Σ E_ref) x HA
   9  h       H        meV         Enthalphy_298K_au           (E - Σ E_ref) x HA
  10  g       G        meV         GibbsFreeEnergy_298K_au     (E - Σ E_ref) x HA
  11  cv      C_v      cal/mol K   Heatcapacity_Cv_cal_mol_K   none
====  ======  =======  ==========  ==========================  ===================

HA = 27211.386246 meV per Ha (1 Ha = 27.211386246 eV). U0, U, H and G are *atomisation* energies:
the total energy E minus the sum of the isolated-atom energies E_ref of the same level of theory
(B3LYP/6-31G(2df,p), ``ATOM_REFS_HA``).
The subtraction and the conversion run in float64 and only the result is cast to float32: a total
energy of about -1e7 meV has a float32 spacing of 1 meV, an atomisation energy of -1e5 meV one of
0.008 meV.

Splits
------
Deterministic permutations of the 130,831 positions in QM9-id order (:func:`qm9_split_indices`):

- ``dimenet``: ``numpy.random.RandomState(42).permutation(130831)``, cut into train 110,000,
  val 10,000, test 10,831;
- ``cormorant``: ``numpy.random.RandomState(0).permutation(130831)``, cut into train 100,000,
  val 17,748, test 13,083.

``subset=n`` keeps the first ``n`` of a split part (in permutation order). :func:`qm9_split_record`
gives a JSON-able record of a split (scheme, subset, sizes, a SHA-256 of the QM9 ids of each part
and optionally the ids themselves) for a training run to save, and :func:`check_split_record`
verifies one against the current data.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import math
import operator
import os
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from regconv.utils import io as _rio

__all__ = [
    "ATOM_REFS_HA",
    "ELEMENTS",
    "HARTREE_TO_MEV",
    "QM9",
    "QM9_NUM_MOLECULES",
    "QM9_SCHEMES",
    "QM9_SPLITS",
    "QM9_TARGETS",
    "QM9_TARGET_SYMBOLS",
    "QM9Tensors",
    "check_split_record",
    "load_qm9_tensors",
    "molecule_from_arrays",
    "parse_qm9_csv",
    "qm9_split_indices",
    "qm9_split_record",
    "qm9pack_data_dir",
    "source_fingerprint",
]

# ----------------------------------------------------------------------------------------------
# Constants
# ----------------------------------------------------------------------------------------------

HARTREE_TO_MEV = 27211.386246
"""1 Ha in meV (1 Ha = 27.211386246 eV)."""

QM9_TARGETS: list[tuple[str, str]] = [
    ("mu", "D"),
    ("alpha", "bohr^3"),
    ("homo", "meV"),
    ("lumo", "meV"),
    ("gap", "meV"),
    ("r2", "bohr^2"),
    ("zpve", "meV"),
    ("u0", "meV"),
    ("u", "meV"),
    ("h", "meV"),
    ("g", "meV"),
    ("cv", "cal/mol K"),
]
"""The 12 regression targets, ``(short name, unit)``, in the column order of ``y``."""

QM9_TARGET_SYMBOLS: dict[str, str] = {
    "mu": "μ",
    "alpha": "α",
    "homo": "ε_HOMO",
    "lumo": "ε_LUMO",
    "gap": "Δε",
    "r2": "⟨R²⟩",
    "zpve": "ZPVE",
    "u0": "U0",
    "u": "U",
    "h": "H",
    "g": "G",
    "cv": "C_v",
}
"""Conventional symbol of each target."""

_TARGET_NAMES = [name for name, _ in QM9_TARGETS]

# CSV column of each target, in QM9_TARGETS order.
_TARGET_COLUMNS = [
    "Dipole_debye",
    "Polarizability_bohr3",
    "HOMO_au",
    "LUMO_au",
    "HOMO_LUMO_gap_au",
    "R2_bohr2",
    "ZPVE_au",
    "InternalEnergy_0K_au",
    "InternalEnergy_298K_au",
    "Enthalphy_298K_au",
    "GibbsFreeEnergy_298K_au",
    "Heatcapacity_Cv_cal_mol_K",
]
_HARTREE_COLS = [2, 3, 4, 6]  # homo, lumo, gap, zpve: Ha -> meV
_ATOMISATION_COLS = [7, 8, 9, 10]  # u0, u, h, g: (E - sum of atom refs) Ha -> meV

ELEMENTS: dict[str, int] = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}
"""QM9's elements: symbol -> atomic number."""
_SYMBOL_OF_Z = {z: s for s, z in ELEMENTS.items()}
_KNOWN = "QM9 models know H, C, N, O, F"

ATOM_REFS_HA: dict[str, tuple[float, float, float, float]] = {
    # element: (U0, U, H, G) of the isolated atom, Ha, B3LYP/6-31G(2df,p)
    "H": (-0.500273, -0.498857, -0.497912, -0.510927),
    "C": (-37.846772, -37.845355, -37.844411, -37.861317),
    "N": (-54.583861, -54.582445, -54.581501, -54.598897),
    "O": (-75.064579, -75.063163, -75.062219, -75.079532),
    "F": (-99.718730, -99.717314, -99.716370, -99.733544),
}
"""Isolated-atom energies (U0, U, H, G) in Ha, subtracted to get atomisation energies."""

QM9_NUM_MOLECULES = 130_831
QM9_MAX_ID = 133_885
QM9_NUM_GAPS = QM9_MAX_ID - QM9_NUM_MOLECULES  # 3,054

QM9_SPLITS = ("train", "val", "test", "all")
QM9_SCHEMES: dict[str, tuple[int, tuple[int, int, int]]] = {
    # scheme: (RandomState seed, (train, val, test) sizes)
    "dimenet": (42, (110_000, 10_000, 10_831)),
    "cormorant": (0, (100_000, 17_748, 13_083)),
}
_PARTS = ("train", "val", "test")

_QM9PACK = "qm9pack"  # module name; a module-level constant so tests can point it elsewhere
_INSTALL_HINT = "pip install qm9pack==1.0.3"
_PART_GLOB = "qm9_part*.csv"

# Bump when the parsed content changes (columns, units, references): old caches become stale.
_CACHE_FORMAT = 1
_FINGERPRINT_BLOCK = 1 << 20  # bytes hashed at the start and at the end of each source file
_TENSOR_KEYS = ("z", "pos", "ptr", "idx", "y")


def _warn(msg: str) -> None:
    print(f"regconv.data.qm9: {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Locating and fingerprinting the source
# ----------------------------------------------------------------------------------------------


def qm9pack_data_dir() -> Path:
    """The ``data`` folder of the installed ``qm9pack`` package, found without importing it.

    Raises:
        ImportError: ``qm9pack`` is not installed or its data files are missing.
    """
    try:
        spec = importlib.util.find_spec(_QM9PACK)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ImportError(
            f"the QM9 data set needs the package {_QM9PACK!r}, which is not installed: "
            f"{_INSTALL_HINT}"
        )
    for loc in locations:
        data = Path(loc) / "data"
        if sorted(data.glob(_PART_GLOB)):
            return data
    raise ImportError(
        f"the package {_QM9PACK!r} at {locations[0]} has no data/{_PART_GLOB} files; reinstall "
        f"it: {_INSTALL_HINT} --force-reinstall"
    )


def _source_files(source_dir: Path) -> list[Path]:
    files = sorted(source_dir.glob(_PART_GLOB))
    if not files:
        raise FileNotFoundError(f"no {_PART_GLOB} files in {source_dir}")
    return files


def source_fingerprint(source_dir: str | os.PathLike | None = None) -> str:
    """A SHA-256 (hex) of the source CSVs' names, sizes, mtimes and first and last MiB, plus the
    cache format version. Cheap (reads at most 2 MiB per file); changes when a file changes."""
    src = Path(source_dir) if source_dir is not None else qm9pack_data_dir()
    h = hashlib.sha256(f"regconv-qm9-cache-v{_CACHE_FORMAT}".encode())
    for f in _source_files(src):
        st = f.stat()
        h.update(f"|{f.name}|{st.st_size}|{st.st_mtime_ns}|".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(_FINGERPRINT_BLOCK))
            if st.st_size > _FINGERPRINT_BLOCK:
                fh.seek(max(_FINGERPRINT_BLOCK, st.st_size - _FINGERPRINT_BLOCK))
                h.update(fh.read())
    return h.hexdigest()


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
    needed = ["Index", "N_atoms", "Elements", "XYZ_Ang", *_TARGET_COLUMNS]
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
        get_targets = operator.itemgetter(*(col[c] for c in _TARGET_COLUMNS))
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
    ``ptr[m]:ptr[m+1]``), ``idx`` [M] int64 (QM9 id), ``y`` [M, 12] float32 (see module docstring).

    Raises:
        ValueError: a malformed row, an unknown element, non-finite coordinates or targets, an
            atom count that disagrees with ``N_atoms``, or a duplicate id; the message names the
            molecule (QM9 id, file and line).
    """
    source_dir = Path(source_dir)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    rows = _Rows()
    for f in _source_files(source_dir):
        _read_csv(f, rows)
    m = len(rows.ids)
    if m == 0:
        raise ValueError(f"no molecules in {source_dir}/{_PART_GLOB}")

    def where(k: int) -> str:
        return f"{rows.files[rows.file_no[k]]} line {rows.line_no[k]}"

    def name(k: int) -> str:
        return f"QM9 molecule id {rows.ids[k].strip()} ({where(k)})"

    # ids and atom counts
    ids = np.empty(m, dtype=np.int64)
    n_atoms = np.empty(m, dtype=np.int64)
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
    ptr_file = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(n_atoms, out=ptr_file[1:])
    total = int(ptr_file[-1])

    def molecule_of_atom(a: int) -> int:
        return int(np.searchsorted(ptr_file, a, side="right") - 1)

    # elements
    symbols = ",".join(rows.elements).translate(_STRIP_SYMBOLS).split(",")
    lookup = ELEMENTS.get
    z = np.fromiter((lookup(s, 0) for s in symbols), dtype=np.uint8, count=total)
    bad = np.flatnonzero(z == 0)
    if bad.size:
        a = int(bad[0])
        raise ValueError(f"{name(molecule_of_atom(a))}: unknown element {symbols[a]!r}; {_KNOWN}")

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
    pos64 = flat.reshape(total, 3)
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
            for c, s in zip(_TARGET_COLUMNS, t, strict=True):
                try:
                    float(s)
                except ValueError:
                    raise ValueError(f"{name(k)}: {c} is not a number: {s!r}") from None
        raise
    bad_rows, bad_cols = np.nonzero(~np.isfinite(raw))
    if bad_rows.size:
        k, c = int(bad_rows[0]), int(bad_cols[0])
        raise ValueError(f"{name(k)}: non-finite {_TARGET_COLUMNS[c]} = {raw[k, c]}")
    y64 = _targets_from_raw(raw, z, ptr_file)

    # sort by QM9 id
    order = np.argsort(ids, kind="stable")
    ids_sorted = ids[order]
    dup = np.flatnonzero(ids_sorted[1:] == ids_sorted[:-1])
    if dup.size:
        first = [k for k in range(m) if ids[k] == ids_sorted[dup[0]]]
        raise ValueError(
            f"duplicate QM9 id {ids_sorted[dup[0]]} in {where(first[0])} and {where(first[1])}"
        )
    counts = n_atoms[order]
    ptr = np.zeros(m + 1, dtype=np.int64)
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


def _atom_refs_by_z() -> np.ndarray:
    """[10, 4] float64: (U0, U, H, G) reference in Ha, indexed by atomic number."""
    refs = np.zeros((10, 4), dtype=np.float64)
    for sym, vals in ATOM_REFS_HA.items():
        refs[ELEMENTS[sym]] = vals
    return refs


def _targets_from_raw(raw: np.ndarray, z: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """CSV units [M, 12] float64 -> published units [M, 12] float64 (module docstring table)."""
    if raw.dtype != np.float64:
        raise ValueError("targets must be converted in float64")
    m = raw.shape[0]
    y = raw.copy()
    y[:, _HARTREE_COLS] *= HARTREE_TO_MEV
    # Sum of isolated-atom references per molecule: counts of each element [M, 10] (exact small
    # integers) times references [10, 4], all float64.
    mol = np.repeat(np.arange(m), np.diff(ptr))
    counts = np.bincount(mol * 10 + z.astype(np.int64), minlength=m * 10).reshape(m, 10)
    ref_sum = counts.astype(np.float64) @ _atom_refs_by_z()  # [M, 4] Ha
    y[:, _ATOMISATION_COLS] = (raw[:, _ATOMISATION_COLS] - ref_sum) * HARTREE_TO_MEV
    return y


# ----------------------------------------------------------------------------------------------
# Cache
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QM9Tensors:
    """All of QM9 as concatenated tensors, molecules sorted by QM9 id.

    Atoms of molecule ``m`` are ``z[ptr[m]:ptr[m+1]]``, ``pos[ptr[m]:ptr[m+1]]``.
    """

    z: torch.Tensor  # [A] uint8 atomic numbers
    pos: torch.Tensor  # [A, 3] float32, Å
    ptr: torch.Tensor  # [M + 1] int64
    idx: torch.Tensor  # [M] int64, QM9 id
    y: torch.Tensor  # [M, 12] float32, QM9_TARGETS order and units
    source_dir: str
    cache_path: str | None
    built: bool  # True when this call parsed the CSVs (no valid cache was found)
    parse_seconds: float | None  # time the CSV parse took (when the cache was built)
    load_seconds: float  # wall time of the load_qm9_tensors call that produced this

    @property
    def num_molecules(self) -> int:
        return int(self.idx.shape[0])

    @property
    def num_atoms(self) -> int:
        return int(self.z.shape[0])


def _payload_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in _TENSOR_KEYS:
        t = tensors[key].contiguous()
        h.update(f"|{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _check_structure(t: dict[str, torch.Tensor]) -> None:
    """Cheap shape/dtype consistency checks of a payload; raises ValueError."""
    z, pos, ptr, idx, y = (t[k] for k in _TENSOR_KEYS)
    m = idx.shape[0]
    ok = (
        z.dtype == torch.uint8
        and z.dim() == 1
        and pos.dtype == torch.float32
        and tuple(pos.shape) == (z.shape[0], 3)
        and ptr.dtype == torch.int64
        and tuple(ptr.shape) == (m + 1,)
        and idx.dtype == torch.int64
        and y.dtype == torch.float32
        and tuple(y.shape) == (m, len(QM9_TARGETS))
        and m > 0
        and int(ptr[0]) == 0
        and int(ptr[-1]) == z.shape[0]
    )
    if not ok:
        raise ValueError("inconsistent tensor shapes or dtypes")


def _cache_name(source_dir: Path, fingerprint: str) -> str:
    # qm9-<source location>-<source content>.pt: caches of the same location with another
    # content are stale and are removed when a new one is written.
    loc = hashlib.sha256(str(source_dir.resolve()).encode()).hexdigest()[:8]
    return f"qm9-{loc}-{fingerprint[:20]}.pt"


def _read_cache(path: Path, fingerprint: str) -> tuple[dict[str, torch.Tensor], float] | None:
    """The cached tensors and the recorded parse time, or None (with a message) if unusable."""
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        _warn(f"cannot read the QM9 cache {path} ({e}); rebuilding it")
        return None
    try:
        obj = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        if not isinstance(obj, dict) or obj.get("format") != _CACHE_FORMAT:
            raise ValueError("not a regconv QM9 cache of this format version")
        if obj.get("source_fingerprint") != fingerprint:
            raise ValueError("it was built from different source files (stale)")
        tensors = {k: obj[k] for k in _TENSOR_KEYS}
        if not all(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise ValueError("missing tensors")
        _check_structure(tensors)
        if _payload_digest(tensors) != obj.get("payload_sha256"):
            raise ValueError("payload checksum mismatch")
    except Exception as e:  # unpickling errors come in many types
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        _warn(
            f"the QM9 cache {path} is corrupt or stale ({type(e).__name__}: {msg}); rebuilding it"
        )
        return None
    return tensors, float(obj.get("parse_seconds", float("nan")))


def _write_cache(
    path: Path, tensors: dict[str, torch.Tensor], fingerprint: str, src: Path, parse_seconds: float
) -> None:
    obj: dict[str, Any] = {
        "format": _CACHE_FORMAT,
        "source_fingerprint": fingerprint,
        "source_dir": str(src),
        "payload_sha256": _payload_digest(tensors),
        "parse_seconds": parse_seconds,
        **tensors,
    }
    buf = io.BytesIO()
    torch.save(obj, buf)
    _rio.atomic_write_bytes(path, buf.getvalue())
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(prefix + "*.pt"):
        if old.name != path.name:
            try:
                old.unlink()
            except OSError:
                pass


_MEMO: dict[tuple[str, str], QM9Tensors] = {}


def load_qm9_tensors(
    source_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    *,
    rebuild: bool = False,
    memo: bool = True,
    expect_full: bool | None = None,
) -> QM9Tensors:
    """Load QM9 as concatenated tensors, from the cache if it is valid, else by parsing the CSVs.

    Args:
        source_dir: folder with ``qm9_part*.csv``; default: the installed ``qm9pack``'s data.
        cache_dir: folder of the cache file ``qm9-<location>-<checksum>.pt``; default
            :func:`regconv.utils.io.cache_dir`.
        rebuild: parse the CSVs even if a valid cache exists.
        memo: reuse the tensors already loaded in this process for the same source and cache.
        expect_full: check that the source is the full QM9 (130,831 molecules, ids in
            1..133,885, so 3,054 gaps); default: only for the default source.

    The checksum covers the source files' names, sizes, mtimes and first/last MiB, so changed
    sources give a new cache (the stale one is removed). A cache that cannot be unpickled, has the
    wrong structure or whose payload SHA-256 does not match is rebuilt with a message on stderr.

    Raises:
        ImportError: ``source_dir`` is None and ``qm9pack`` is not installed.
        ValueError: bad source data (see :func:`parse_qm9_csv`).
    """
    t0 = time.perf_counter()
    src = Path(source_dir) if source_dir is not None else qm9pack_data_dir()
    if expect_full is None:
        expect_full = source_dir is None
    fingerprint = source_fingerprint(src)
    root = Path(cache_dir) if cache_dir is not None else _rio.cache_dir()
    path = root / _cache_name(src, fingerprint)
    key = (str(src.resolve()), str(path.resolve()))
    if memo and not rebuild and key in _MEMO:
        return _MEMO[key]

    cached = None if rebuild else _read_cache(path, fingerprint)
    if cached is not None:
        tensors, parse_seconds = cached
        built = False
    else:
        stale = sorted(p.name for p in root.glob(path.name.rsplit("-", 1)[0] + "-*.pt"))
        stale = [p for p in stale if p != path.name]
        if stale:
            _warn(f"the QM9 source files in {src} changed since {stale[0]} was built; rebuilding")
        _warn(f"parsing the QM9 CSVs in {src} into {path} (once; takes a few seconds)")
        t_parse = time.perf_counter()
        arrays = parse_qm9_csv(src)
        parse_seconds = time.perf_counter() - t_parse
        tensors = {k: torch.from_numpy(arrays[k]) for k in _TENSOR_KEYS}
        _check_structure(tensors)
        _write_cache(path, tensors, fingerprint, src, parse_seconds)
        built = True

    if expect_full:
        _check_full(tensors["idx"])
    data = QM9Tensors(
        **tensors,
        source_dir=str(src),
        cache_path=str(path),
        built=built,
        parse_seconds=parse_seconds if built or math.isfinite(parse_seconds) else None,
        load_seconds=time.perf_counter() - t0,
    )
    if memo:
        _MEMO[key] = data
    return data


def _check_full(idx: torch.Tensor) -> None:
    m = idx.shape[0]
    lo, hi = int(idx[0]), int(idx[-1])
    if m != QM9_NUM_MOLECULES or lo < 1 or hi > QM9_MAX_ID:
        raise ValueError(
            f"expected {QM9_NUM_MOLECULES} QM9 molecules with ids in 1..{QM9_MAX_ID}, got {m} "
            f"with ids {lo}..{hi}; reinstall the data: {_INSTALL_HINT} --force-reinstall"
        )


# ----------------------------------------------------------------------------------------------
# Splits
# ----------------------------------------------------------------------------------------------


def _check_scheme(scheme: str) -> tuple[int, tuple[int, int, int]]:
    if scheme not in QM9_SCHEMES:
        raise ValueError(f"unknown QM9 split scheme {scheme!r}; valid: {', '.join(QM9_SCHEMES)}")
    return QM9_SCHEMES[scheme]


def _check_subset(subset: int | None) -> int | None:
    if subset is None:
        return None
    if isinstance(subset, bool) or not isinstance(subset, (int, np.integer)) or subset < 1:
        raise ValueError(f"subset must be a positive integer or None, got {subset!r}")
    return int(subset)


def qm9_split_indices(scheme: str = "dimenet", subset: int | None = None) -> dict[str, np.ndarray]:
    """Positions (into the QM9-id-sorted molecules) of the train/val/test parts of ``scheme``.

    Returns ``{"train", "val", "test"}`` -> int64 arrays, in permutation order; disjoint and
    together ``0..130830``. With ``subset=n`` each part is cut to its first ``n`` positions (a
    part shorter than ``n`` is kept whole).

    Raises:
        ValueError: unknown scheme (the message lists the valid ones) or a bad subset.
    """
    seed, sizes = _check_scheme(scheme)
    subset = _check_subset(subset)
    perm = np.random.RandomState(seed).permutation(QM9_NUM_MOLECULES).astype(np.int64)
    out: dict[str, np.ndarray] = {}
    start = 0
    for part, n in zip(_PARTS, sizes, strict=True):
        out[part] = perm[start : start + n][: subset if subset is not None else n]
        start += n
    return out


def _positions(split: str, scheme: str, subset: int | None, num_molecules: int) -> np.ndarray:
    if split not in QM9_SPLITS:
        raise ValueError(f"unknown QM9 split {split!r}; valid: {', '.join(QM9_SPLITS)}")
    _check_scheme(scheme)
    subset = _check_subset(subset)
    if split == "all":
        pos = np.arange(num_molecules, dtype=np.int64)
        return pos[:subset] if subset is not None else pos
    if num_molecules != QM9_NUM_MOLECULES:
        raise ValueError(
            f"the {scheme!r} split is defined for the {QM9_NUM_MOLECULES} QM9 molecules, but this "
            f"source has {num_molecules}; use split='all'"
        )
    return qm9_split_indices(scheme, subset)[split]


def _ids_digest(ids: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(ids, dtype="<i8").tobytes()).hexdigest()


def qm9_split_record(
    scheme: str = "dimenet",
    subset: int | None = None,
    *,
    include_ids: bool = False,
    data: QM9Tensors | None = None,
) -> dict[str, Any]:
    """A JSON-able record of a split, for a training run to save next to its checkpoints.

    ``{"dataset": "qm9", "scheme", "subset", "num_molecules", "sizes": {part: n},
    "first_ids": {part: [first 5 QM9 ids]}, "ids_sha256": {part: SHA-256 of the int64
    little-endian QM9 ids}}``, plus ``"ids": {part: [QM9 ids]}`` with ``include_ids=True``.
    ``data`` defaults to :func:`load_qm9_tensors` ``()``.
    """
    parts = qm9_split_indices(scheme, subset)
    data = data if data is not None else load_qm9_tensors()
    ids_all = data.idx.numpy()
    if ids_all.shape[0] != QM9_NUM_MOLECULES:
        raise ValueError(f"split records need the full QM9 ({QM9_NUM_MOLECULES} molecules)")
    rec: dict[str, Any] = {
        "dataset": "qm9",
        "scheme": scheme,
        "subset": _check_subset(subset),
        "num_molecules": int(ids_all.shape[0]),
        "sizes": {p: int(a.shape[0]) for p, a in parts.items()},
        "first_ids": {p: [int(i) for i in ids_all[a[:5]]] for p, a in parts.items()},
        "ids_sha256": {p: _ids_digest(ids_all[a]) for p, a in parts.items()},
    }
    if include_ids:
        rec["ids"] = {p: [int(i) for i in ids_all[a]] for p, a in parts.items()}
    return rec


def check_split_record(record: dict[str, Any], data: QM9Tensors | None = None) -> None:
    """Raise ValueError if ``record`` (from :func:`qm9_split_record`, e.g. read back from JSON)
    does not describe the split the current data and code produce."""
    if not isinstance(record, dict) or record.get("dataset") != "qm9":
        raise ValueError("not a QM9 split record")
    now = qm9_split_record(
        record.get("scheme", ""), record.get("subset"), include_ids=False, data=data
    )
    for key in ("num_molecules", "sizes", "ids_sha256"):
        if record.get(key) != now[key]:
            raise ValueError(
                f"QM9 split record mismatch in {key!r}: saved {record.get(key)!r}, now {now[key]!r}"
            )
    if "ids" in record:
        parts = qm9_split_indices(now["scheme"], now["subset"])
        ids_all = (data if data is not None else load_qm9_tensors()).idx.numpy()
        for p, a in parts.items():
            if [int(i) for i in ids_all[a]] != list(record["ids"].get(p, [])):
                raise ValueError(f"QM9 split record mismatch in the ids of {p!r}")


# ----------------------------------------------------------------------------------------------
# Molecules and the data set
# ----------------------------------------------------------------------------------------------


def _to_z(items: Any) -> np.ndarray:
    if isinstance(items, torch.Tensor):
        items = items.detach().cpu().numpy()
    if isinstance(items, (str, bytes)):
        raise ValueError(
            f"give one element per atom (a sequence of symbols or atomic numbers), got the "
            f"string {items!r}"
        )
    arr = np.asarray(items, dtype=object) if not isinstance(items, np.ndarray) else items
    if arr.ndim != 1:
        raise ValueError(f"elements must be a 1-D sequence, got shape {tuple(arr.shape)}")
    z = np.empty(arr.shape[0], dtype=np.int64)
    upper = {s.upper(): n for s, n in ELEMENTS.items()}
    for i, e in enumerate(arr.tolist()):
        if isinstance(e, bytes):
            e = e.decode(errors="replace")
        if isinstance(e, str):
            n = upper.get(e.strip().upper())
            if n is None:
                raise ValueError(f"unknown element {e.strip()!r} (atom {i}): {_KNOWN}")
        elif isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            n = int(e)
            if n not in _SYMBOL_OF_Z:
                raise ValueError(f"unknown element Z={n} (atom {i}): {_KNOWN}")
        elif isinstance(e, float) and e.is_integer() and int(e) in _SYMBOL_OF_Z:
            n = int(e)
        else:
            raise ValueError(
                f"unknown element {e!r} (atom {i}): give an element symbol or an atomic number; "
                f"{_KNOWN}"
            )
        z[i] = n
    return z


def molecule_from_arrays(symbols_or_z: Sequence[str | int] | np.ndarray | torch.Tensor, pos: Any):
    """A validated molecule ``Data(z [n] long, pos [n, 3] float32)`` from user input.

    Args:
        symbols_or_z: element symbols (``"H"``, ``"c"``: case-insensitive) or atomic numbers of
            QM9's elements H, C, N, O, F.
        pos: ``[n, 3]`` Cartesian coordinates in Å (any array-like).

    Raises:
        ValueError: empty molecule, unknown element, ``pos`` not of shape ``[n, 3]`` (or
            ``n`` different from the number of elements), non-numeric or non-finite coordinates.
    """
    from torch_geometric.data import Data

    z = _to_z(symbols_or_z)
    if z.shape[0] == 0:
        raise ValueError("empty molecule: give at least one atom")
    if isinstance(pos, torch.Tensor):
        pos = pos.detach().cpu().numpy()
    try:
        p = np.asarray(pos, dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise ValueError(f"pos must be an [n, 3] array of numbers: {e}") from None
    if p.ndim != 2 or p.shape[1] != 3:
        raise ValueError(f"pos must have shape [n, 3], got {tuple(p.shape)}")
    if p.shape[0] != z.shape[0]:
        raise ValueError(f"got {z.shape[0]} element(s) but {p.shape[0]} position(s)")
    bad = np.flatnonzero(~np.isfinite(p).all(axis=1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"non-finite coordinates for atom {i} ({_SYMBOL_OF_Z[int(z[i])]}): {p[i].tolist()}"
        )
    return Data(z=torch.from_numpy(z), pos=torch.from_numpy(p.astype(np.float32)))


def _target_columns(targets: str | Sequence[str] | None) -> list[int]:
    if targets is None:
        return list(range(len(QM9_TARGETS)))
    if isinstance(targets, str):
        targets = [targets]
    cols = []
    for t in targets:
        if t not in _TARGET_NAMES:
            raise ValueError(f"unknown QM9 target {t!r}; valid: {', '.join(_TARGET_NAMES)}")
        cols.append(_TARGET_NAMES.index(t))
    if not cols:
        raise ValueError(f"targets must name at least one of: {', '.join(_TARGET_NAMES)}")
    return cols


class QM9(Dataset):
    """QM9 molecules as ``torch_geometric.data.Data(z [n] long, pos [n, 3] float32 (Å),
    y [1, T] float32, idx [1] long (QM9 id))``; batch with ``torch_geometric.loader.DataLoader``.

    Args:
        split: ``"train"``, ``"val"``, ``"test"`` (parts of ``scheme``) or ``"all"`` (id order).
        scheme: ``"dimenet"`` or ``"cormorant"`` (see :func:`qm9_split_indices`).
        subset: keep the first ``subset`` molecules of the split (deterministic).
        targets: target names to put in ``y`` (default all 12, in ``QM9_TARGETS`` order).
        source_dir, cache_dir: passed to :func:`load_qm9_tensors`.

    Items are sliced from the shared concatenated tensors (copies, so a saved item holds only its
    own atoms).
    """

    def __init__(
        self,
        split: str = "train",
        scheme: str = "dimenet",
        subset: int | None = None,
        targets: str | Sequence[str] | None = None,
        *,
        source_dir: str | os.PathLike | None = None,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        self._cols = _target_columns(targets)
        # validate the names before the (possibly slow) load
        if split not in QM9_SPLITS:
            raise ValueError(f"unknown QM9 split {split!r}; valid: {', '.join(QM9_SPLITS)}")
        _check_scheme(scheme)
        _check_subset(subset)
        self.split, self.scheme, self.subset = split, scheme, subset
        self.target_names = [_TARGET_NAMES[c] for c in self._cols]
        self.target_units = [QM9_TARGETS[c][1] for c in self._cols]
        self.data = load_qm9_tensors(source_dir, cache_dir)
        self.positions = _positions(split, scheme, subset, self.data.num_molecules)
        self._ptr = self.data.ptr.numpy()
        all_cols = self._cols == list(range(len(QM9_TARGETS)))
        self._y = self.data.y if all_cols else self.data.y[:, self._cols].contiguous()

    def __len__(self) -> int:
        return int(self.positions.shape[0])

    def __getitem__(self, i: int):
        from torch_geometric.data import Data

        if isinstance(i, torch.Tensor):
            i = i.item()
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"QM9 indices must be integers, got {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a QM9 split of {n} molecules")
        m = int(self.positions[i])
        a, b = int(self._ptr[m]), int(self._ptr[m + 1])
        return Data(
            z=self.data.z[a:b].long(),
            pos=self.data.pos[a:b].clone(),
            y=self._y[m : m + 1].clone(),
            idx=self.data.idx[m : m + 1].clone(),
        )

    @property
    def ids(self) -> torch.Tensor:
        """QM9 ids of this split's molecules, in item order ([len] long)."""
        return self.data.idx[torch.from_numpy(self.positions)]

    @property
    def y(self) -> torch.Tensor:
        """Targets of this split's molecules, in item order ([len, T] float32)."""
        return self._y[torch.from_numpy(self.positions)]

    def target_mean_std(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-target mean and standard deviation over this split ([T] float64 each)."""
        y = self.y.double()
        return y.mean(0), y.std(0)

    def split_record(self, include_ids: bool = False) -> dict[str, Any]:
        """JSON-able record of this data set's split (see :func:`qm9_split_record`)."""
        if self.split == "all":
            return {
                "dataset": "qm9",
                "split": "all",
                "subset": self.subset,
                "num_molecules": self.data.num_molecules,
                "ids_sha256": _ids_digest(self.ids.numpy()),
            }
        rec = qm9_split_record(self.scheme, self.subset, include_ids=include_ids, data=self.data)
        rec["split"] = self.split
        return rec

    def __repr__(self) -> str:
        return (
            f"QM9(split={self.split!r}, scheme={self.scheme!r}, subset={self.subset}, "
            f"molecules={len(self)}, targets={self.target_names})"
        )
