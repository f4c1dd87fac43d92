"""Molecules from files and arrays: the one reader of (extended) XYZ files and ASE databases, and
the validation of elements (QM9's H, C, N, O, F) and coordinates (finite, ``[n, 3]``) of
user-given molecules.

Input formats
-------------
* XYZ, one or many frames: a count line, a comment line, then ``count`` lines ``Sym x y z`` (an
  element symbol or an atomic number, then Cartesian coordinates in Å). Extra columns after
  ``z`` are ignored. Blank lines between frames are allowed.
* Extended XYZ: the comment line holds ``key=value`` pairs; ``Properties=species:S:1:pos:R:3:...``
  says which columns hold the element and the position, and every atom line must have exactly
  the columns it declares. A ``name=...`` (or ``id=`` / ``title=``) pair names the molecule.
* ASE databases (``.db``, needs ``ase``): every row; the name is the row's ``name`` key, if any.

Molecules are named by the above, else by a plain XYZ comment line, else ``<file stem>_<index>``.
Besides elements and positions a :class:`Molecule` keeps the rest of its record in
``properties``: the comment line's pairs (strings, keys as written) and the other per-atom
columns (``R`` and ``I`` columns as float arrays ``[n, k]``, the others as strings) of an
extended XYZ frame; a database row's key-value pairs, ``data`` entries, stored calculator
results (``energy``, ``forces``, ``stress``) and, for periodic rows, ``Lattice`` and ``pbc``. The energy + force readers (:mod:`regconv.data.md17.readers`)
read their labels from there.

``elements="qm9"`` (the default: what the QM9 models know) accepts H, C, N, O, F;
``elements="any"`` every element of the periodic table (1..118).

Every problem of a file (unknown element, wrong column count, non-numeric or non-finite
coordinates, a truncated frame) raises :class:`MoleculeError` naming the file and line (or row)
and the molecule; :func:`molecule_from_arrays` raises ``ValueError`` naming the atom.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from regconv.data.qm9.constants import ELEMENTS, KNOWN_ELEMENTS, SYMBOL_OF_Z

__all__ = [
    "MAX_Z",
    "PERIODIC_TABLE",
    "Molecule",
    "MoleculeError",
    "molecule_arrays",
    "molecule_from_arrays",
    "read_db",
    "read_molecules",
    "read_xyz",
]

PERIODIC_TABLE = tuple(
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb "
    "Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm "
    "Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og".split()
)
"""The element symbols by atomic number (``PERIODIC_TABLE[z - 1]``), 1..118."""

MAX_Z = len(PERIODIC_TABLE)
"""The largest atomic number a molecule may hold (oganesson)."""

Elements = Literal["qm9", "any"]

_Z_OF_UPPER = {s.upper(): z for s, z in ELEMENTS.items()}  # "H" -> 1, ... (case-insensitive)
_KNOWN_LIST = ", ".join(sorted(_Z_OF_UPPER, key=_Z_OF_UPPER.get))  # "H, C, N, O, F"
_ANY_Z_OF_UPPER = {s.upper(): z for z, s in enumerate(PERIODIC_TABLE, start=1)}
_KNOWN = {  # elements= -> (symbol -> Z, the valid atomic numbers, what to say)
    "qm9": (_Z_OF_UPPER, set(SYMBOL_OF_Z), f"the model knows {_KNOWN_LIST}"),
    "any": (
        _ANY_Z_OF_UPPER,
        set(range(1, MAX_Z + 1)),
        f"valid: element symbols, atomic numbers 1..{MAX_Z}",
    ),
}


class MoleculeError(ValueError):
    """Bad molecule input; the message names the file and line (or row) or the molecule."""


@dataclass
class Molecule:
    """One input molecule: ``z [n]`` atomic numbers, ``pos [n, 3]`` Å, a name, where it came
    from (``"file.xyz line 12"`` or ``"file.db row id=3"``) and the rest of its record
    (``properties``: see the module docstring)."""

    name: str
    z: np.ndarray  # [n] int64
    pos: np.ndarray  # [n, 3] float64, Å
    where: str
    properties: dict[str, Any] = field(default_factory=dict)


def _known(elements: str) -> tuple[dict[str, int], set[int], str]:
    if elements not in _KNOWN:
        raise ValueError(f"elements must be 'qm9' or 'any', got {elements!r}")
    return _KNOWN[elements]


# ----------------------------------------------------------------------------------------------
# (Extended) XYZ
# ----------------------------------------------------------------------------------------------

_PAIR = re.compile(r"""([A-Za-z_][\w\-.]*)\s*=\s*("[^"]*"|'[^']*'|\{[^}]*\}|\S+)""")


def _comment_pairs(comment: str) -> dict[str, str]:
    """The ``key=value`` pairs of a comment line, keys as written, quotes removed."""
    pairs = {}
    for key, value in _PAIR.findall(comment):
        if value[:1] in "\"'{" and len(value) >= 2:
            value = value[1:-1]
        pairs[key] = value
    return pairs


_Column = tuple[str, str, int, int]  # (name, type, first column, count)


def _columns(properties: str, where: str) -> tuple[int, int, int, list[_Column]]:
    """From ``Properties=...``: (total columns, element column, first position column, the
    other columns)."""
    parts = properties.split(":")
    if len(parts) % 3:
        raise MoleculeError(f"{where}: malformed Properties={properties!r} (name:type:count ...)")
    col, species, pos, others = 0, None, None, []
    for i in range(0, len(parts), 3):
        name, kind, count = parts[i], parts[i + 1].upper(), parts[i + 2]
        if not count.isdigit() or int(count) < 1:
            raise MoleculeError(f"{where}: bad column count {count!r} for {name!r} in Properties")
        n = int(count)
        if name.lower() in ("species", "symbols", "z", "numbers") and n == 1 and species is None:
            species = col
        elif name.lower() in ("pos", "positions") and kind == "R" and n == 3:
            pos = col
        else:
            others.append((name, kind, col, n))
        col += n
    if species is None or pos is None:
        raise MoleculeError(
            f"{where}: Properties={properties!r} needs a species (S:1) and a pos (R:3) entry"
        )
    return col, species, pos, others


def _element_of_column(text: str, known: tuple[dict[str, int], set[int], str]) -> int | None:
    """Atomic number of a symbol (any case) or a number string, or None if not a known one."""
    z = int(text) if text.isdigit() else known[0].get(text.upper())
    return z if z in known[1] else None


def _column_values(rows: list[list[str]], column: _Column, path: Path, first: int) -> np.ndarray:
    """The values ``[n, count]`` of an extra per-atom column (atom lines from index ``first``):
    floats for ``R`` and ``I``, else strings."""
    name, kind, start, count = column
    values = [cols[start : start + count] for cols in rows]
    if kind not in ("R", "I"):
        return np.array(values, dtype=str)
    out = np.empty((len(rows), count), dtype=np.float64)
    for a, v in enumerate(values):
        try:
            out[a] = [float(x) for x in v]
        except ValueError:
            raise MoleculeError(
                f"{path} line {first + a + 1}: column {name!r} must be numbers, got {' '.join(v)!r}"
            ) from None
    return out


def read_xyz(path: str | Path, *, elements: Elements = "qm9") -> list[Molecule]:
    """Read every frame of an (extended) XYZ file (see the module docstring).

    Raises:
        MoleculeError: a malformed or truncated frame, an unknown element, bad coordinates; the
            message names the file, the line and the molecule.
    """
    known = _known(elements)
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise MoleculeError(f"{path}: not a UTF-8 text file ({e})") from None
    mols: list[Molecule] = []
    i = 0
    while True:
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines):
            break
        k = len(mols)
        head = lines[i].split()
        if len(head) != 1 or not head[0].isdigit() or int(head[0]) < 1:
            raise MoleculeError(
                f"{path} line {i + 1}: expected the atom count of molecule {k} (a positive "
                f"integer alone on its line), got {lines[i].strip()!r}"
            )
        n = int(head[0])
        if i + 1 >= len(lines):
            raise MoleculeError(f"{path} line {i + 2}: missing the comment line of molecule {k}")
        comment = lines[i + 1].strip()
        pairs = _comment_pairs(comment)
        lower = {key.lower(): key for key in pairs}
        where = f"{path} line {i + 2}"
        if "properties" in lower:
            ncol, c_el, c_pos, others = _columns(pairs[lower["properties"]], where)
            exact = True
        else:
            ncol, c_el, c_pos, others, exact = 4, 0, 1, [], False
        name = next((pairs[lower[key]] for key in ("name", "id", "title") if key in lower), None)
        if name is None:
            name = comment if comment and not pairs else f"{path.stem}_{k}"
        z = np.empty(n, dtype=np.int64)  # [n]
        pos = np.empty((n, 3), dtype=np.float64)  # [n, 3]
        rows: list[list[str]] = []
        first = i + 2
        for a in range(n):
            ln = first + a
            if ln >= len(lines) or not lines[ln].strip():
                raise MoleculeError(
                    f"{path} line {ln + 1}: molecule {k} ({name}) declares {n} atoms but only "
                    f"{a} atom line(s) follow"
                )
            cols = lines[ln].split()
            if (exact and len(cols) != ncol) or (not exact and len(cols) < 4):
                need = f"exactly {ncol}" if exact else "at least 4 (element x y z)"
                raise MoleculeError(
                    f"{path} line {ln + 1}: wrong column count in molecule {k} ({name}): "
                    f"expected {need} columns, got {len(cols)}: {lines[ln].strip()!r}"
                )
            sym = cols[c_el]
            zz = _element_of_column(sym, known)
            if zz is None:
                raise MoleculeError(
                    f"{path} line {ln + 1}: unknown element {sym!r} in molecule {k} ({name}); "
                    f"{known[2]}"
                )
            try:
                xyz = [float(v) for v in cols[c_pos : c_pos + 3]]
            except ValueError:
                raise MoleculeError(
                    f"{path} line {ln + 1}: coordinates must be numbers, got "
                    f"{' '.join(cols[c_pos : c_pos + 3])!r} (molecule {k}, {name})"
                ) from None
            if not all(math.isfinite(v) for v in xyz):
                raise MoleculeError(
                    f"{path} line {ln + 1}: non-finite coordinates {xyz} (molecule {k}, {name})"
                )
            z[a] = zz
            pos[a] = xyz
            rows.append(cols)
        properties = {key: v for key, v in pairs.items() if key.lower() != "properties"}
        for column in others:
            properties[column[0]] = _column_values(rows, column, path, first)
        mols.append(Molecule(name, z, pos, f"{path} line {i + 1}", properties))
        i = first + n
        # a line after the atoms that is neither blank nor a count line is caught by the next
        # iteration's count check (e.g. more atom lines than declared)
    if not mols:
        raise MoleculeError(f"{path}: no molecules found")
    return mols


# ----------------------------------------------------------------------------------------------
# ASE databases and dispatch
# ----------------------------------------------------------------------------------------------


def _database_rows(path: str | Path) -> list:
    """Every row of an ASE database (an SQLite ``ase.db`` file, needs ``ase``), in id order.

    Raises:
        MoleculeError: ``ase`` missing, no such file (``ase.db.connect`` would create an empty
            database), an empty file, an unreadable database or no rows.
    """
    try:
        from ase.db import connect
    except ImportError:
        raise MoleculeError(
            f"{path}: reading ASE databases needs the 'ase' package (pip install ase)"
        ) from None
    path = Path(path)
    if not path.is_file():
        raise MoleculeError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MoleculeError(f"{path}: empty file (no rows)")
    try:
        with connect(str(path), type="db") as db:
            rows = list(db.select())
    except Exception as e:  # ase raises many kinds for a bad file (sqlite3.DatabaseError, ...)
        raise MoleculeError(
            f"{path}: cannot read as an ASE database ({type(e).__name__}: {e})"
        ) from None
    if not rows:
        raise MoleculeError(f"{path}: the database has no rows")
    return rows


def read_db(path: str | Path, *, elements: Elements = "qm9") -> list[Molecule]:
    """Every row of an ASE database (needs ``ase``; :func:`_database_rows`).

    Raises:
        MoleculeError: see :func:`_database_rows`, or a row with an unknown element, no atoms or
            non-finite coordinates (the message names the row id).
    """
    known = _known(elements)
    mols = []
    for row in _database_rows(path):
        where = f"{path} row id={row.id}"
        z = np.asarray(row.numbers, dtype=np.int64)  # [n]
        pos = np.asarray(row.positions, dtype=np.float64)  # [n, 3]
        bad = [int(v) for v in z if int(v) not in known[1]]
        if bad:
            raise MoleculeError(f"{where}: unknown element Z={bad[0]}; {known[2]}")
        if z.size == 0:
            raise MoleculeError(f"{where}: empty molecule")
        if not np.isfinite(pos).all():
            raise MoleculeError(f"{where}: non-finite coordinates")
        name = row.get("name") or row.get("id_name") or f"{Path(path).stem}_{row.id}"
        results = {
            k: row.get(k) for k in ("energy", "forces", "stress") if row.get(k) is not None
        }
        if np.asarray(row.pbc).any():  # periodic rows: the cell and its periodicity
            results["Lattice"] = np.asarray(row.cell, dtype=np.float64)
            results["pbc"] = np.asarray(row.pbc, dtype=bool)
        data = dict(row.data) if row.get("data") is not None else {}
        properties = {**results, **data, **row.key_value_pairs}
        mols.append(Molecule(str(name), z, pos, where, properties))
    return mols


def read_molecules(path: str | Path, *, elements: Elements = "qm9") -> list[Molecule]:
    """Molecules of an ASE database (``.db``) or an (extended) XYZ file (anything else)."""
    path = Path(path)
    if not path.is_file():
        raise MoleculeError(f"{path}: no such file")
    if path.suffix.lower() == ".db":
        return read_db(path, elements=elements)
    return read_xyz(path, elements=elements)


# ----------------------------------------------------------------------------------------------
# Validation of user arrays
# ----------------------------------------------------------------------------------------------


def _to_z(items: Any) -> np.ndarray:
    """Element symbols (any case) or atomic numbers -> [n] int64 atomic numbers of QM9's."""
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
    z = np.empty(arr.shape[0], dtype=np.int64)  # [n]
    for i, e in enumerate(arr.tolist()):
        if isinstance(e, bytes):
            e = e.decode(errors="replace")
        if isinstance(e, str):
            n = _Z_OF_UPPER.get(e.strip().upper())
            if n is None:
                raise ValueError(f"unknown element {e.strip()!r} (atom {i}): {KNOWN_ELEMENTS}")
        elif isinstance(e, (int, np.integer)) and not isinstance(e, bool):
            n = int(e)
            if n not in SYMBOL_OF_Z:
                raise ValueError(f"unknown element Z={n} (atom {i}): {KNOWN_ELEMENTS}")
        elif isinstance(e, float) and e.is_integer() and int(e) in SYMBOL_OF_Z:
            n = int(e)
        else:
            raise ValueError(
                f"unknown element {e!r} (atom {i}): give an element symbol or an atomic number; "
                f"{KNOWN_ELEMENTS}"
            )
        z[i] = n
    return z


def molecule_arrays(
    symbols_or_z: Sequence[str | int] | np.ndarray | torch.Tensor, pos: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """A validated molecule ``(z [n] long, pos [n, 3] float32)`` from user input.

    Args:
        symbols_or_z: element symbols (``"H"``, ``"c"``: case-insensitive) or atomic numbers of
            QM9's elements H, C, N, O, F.
        pos: ``[n, 3]`` Cartesian coordinates in Å (any array-like).

    Raises:
        ValueError: empty molecule, unknown element, ``pos`` not of shape ``[n, 3]`` (or
            ``n`` different from the number of elements), non-numeric or non-finite coordinates.
    """
    z = _to_z(symbols_or_z)  # [n]
    if z.shape[0] == 0:
        raise ValueError("empty molecule: give at least one atom")
    if isinstance(pos, torch.Tensor):
        pos = pos.detach().cpu().numpy()
    try:
        p = np.asarray(pos, dtype=np.float64)  # [n, 3]
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
            f"non-finite coordinates for atom {i} ({SYMBOL_OF_Z[int(z[i])]}): {p[i].tolist()}"
        )
    return torch.from_numpy(z), torch.from_numpy(p.astype(np.float32))


def molecule_from_arrays(symbols_or_z: Sequence[str | int] | np.ndarray | torch.Tensor, pos: Any):
    """:func:`molecule_arrays` as a PyG ``Data(z, pos)`` (datasets, training)."""
    from torch_geometric.data import Data

    z, p = molecule_arrays(symbols_or_z, pos)
    return Data(z=z, pos=p)
