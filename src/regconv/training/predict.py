"""Predictions for molecules read from (extended) XYZ files or ASE databases.

``regconv predict --ckpt PATH --input molecules.xyz [--output preds.csv]`` (see
:mod:`regconv.cli.main`) uses these functions; they are usable from Python as well::

    task = load_task("runs/qm9/.../checkpoints/best.ckpt")
    mols = read_molecules("molecules.xyz")
    rows = predict_molecules(task, mols)
    write_csv(task, mols, rows, "preds.csv")

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

Every problem (unknown element, wrong column count, non-numeric or non-finite coordinates, a
truncated frame, a checkpoint of a task that does not take molecules) raises
:class:`PredictError` naming the file, line or molecule.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from regconv.training.spec import TaskSpec
from regconv.utils.io import atomic_write_text

__all__ = [
    "Molecule",
    "PredictError",
    "load_task",
    "predict_molecules",
    "read_molecules",
    "read_xyz",
    "write_csv",
]


class PredictError(ValueError):
    """Bad input for prediction; the message names the file and line or molecule."""


@dataclass
class Molecule:
    """One input molecule: ``z [n]`` atomic numbers, ``pos [n, 3]`` Å, a name and where it came
    from (``"file.xyz line 12"`` or ``"file.db row id=3"``)."""

    name: str
    z: np.ndarray
    pos: np.ndarray
    where: str


def _elements() -> dict[str, int]:
    from regconv.data.qm9 import ELEMENTS

    return {s.upper(): z for s, z in ELEMENTS.items()}


_PAIR = re.compile(r"""([A-Za-z_][\w\-.]*)\s*=\s*("[^"]*"|'[^']*'|\{[^}]*\}|\S+)""")


def _comment_pairs(comment: str) -> dict[str, str]:
    pairs = {}
    for key, value in _PAIR.findall(comment):
        if value[:1] in "\"'{" and len(value) >= 2:
            value = value[1:-1]
        pairs[key.lower()] = value
    return pairs


def _columns(properties: str, where: str) -> tuple[int, int, int]:
    """From ``Properties=...``: (total columns, element column, first position column)."""
    parts = properties.split(":")
    if len(parts) % 3:
        raise PredictError(f"{where}: malformed Properties={properties!r} (name:type:count ...)")
    col, species, pos = 0, None, None
    for i in range(0, len(parts), 3):
        name, kind, count = parts[i], parts[i + 1].upper(), parts[i + 2]
        if not count.isdigit() or int(count) < 1:
            raise PredictError(f"{where}: bad column count {count!r} for {name!r} in Properties")
        n = int(count)
        if name.lower() in ("species", "symbols", "z", "numbers") and n == 1 and species is None:
            species = col
        elif name.lower() in ("pos", "positions") and kind == "R" and n == 3:
            pos = col
        col += n
    if species is None or pos is None:
        raise PredictError(
            f"{where}: Properties={properties!r} needs a species (S:1) and a pos (R:3) entry"
        )
    return col, species, pos


def read_xyz(path: str | Path) -> list[Molecule]:
    """Read every frame of an (extended) XYZ file (see the module docstring)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise PredictError(f"{path}: not a UTF-8 text file ({e})") from None
    elements = _elements()
    known = ", ".join(sorted(elements, key=elements.get))
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
            raise PredictError(
                f"{path} line {i + 1}: expected the atom count of molecule {k} (a positive "
                f"integer alone on its line), got {lines[i].strip()!r}"
            )
        n = int(head[0])
        if i + 1 >= len(lines):
            raise PredictError(f"{path} line {i + 2}: missing the comment line of molecule {k}")
        comment = lines[i + 1].strip()
        pairs = _comment_pairs(comment)
        where = f"{path} line {i + 2}"
        if "properties" in pairs:
            ncol, c_el, c_pos = _columns(pairs["properties"], where)
            exact = True
        else:
            ncol, c_el, c_pos, exact = 4, 0, 1, False
        name = pairs.get("name") or pairs.get("id") or pairs.get("title")
        if name is None:
            name = comment if comment and not pairs else f"{path.stem}_{k}"
        z = np.empty(n, dtype=np.int64)
        pos = np.empty((n, 3), dtype=np.float64)
        first = i + 2
        for a in range(n):
            ln = first + a
            if ln >= len(lines) or not lines[ln].strip():
                found = a
                raise PredictError(
                    f"{path} line {ln + 1}: molecule {k} ({name}) declares {n} atoms but only "
                    f"{found} atom line(s) follow"
                )
            cols = lines[ln].split()
            if (exact and len(cols) != ncol) or (not exact and len(cols) < 4):
                need = f"exactly {ncol}" if exact else "at least 4 (element x y z)"
                raise PredictError(
                    f"{path} line {ln + 1}: wrong column count in molecule {k} ({name}): "
                    f"expected {need} columns, got {len(cols)}: {lines[ln].strip()!r}"
                )
            sym = cols[c_el]
            zz = int(sym) if sym.isdigit() else elements.get(sym.upper())
            if zz is None or zz not in elements.values():
                raise PredictError(
                    f"{path} line {ln + 1}: unknown element {sym!r} in molecule {k} ({name}); "
                    f"the model knows {known}"
                )
            try:
                xyz = [float(v) for v in cols[c_pos : c_pos + 3]]
            except ValueError:
                raise PredictError(
                    f"{path} line {ln + 1}: coordinates must be numbers, got "
                    f"{' '.join(cols[c_pos : c_pos + 3])!r} (molecule {k}, {name})"
                ) from None
            if not all(math.isfinite(v) for v in xyz):
                raise PredictError(
                    f"{path} line {ln + 1}: non-finite coordinates {xyz} (molecule {k}, {name})"
                )
            z[a] = zz
            pos[a] = xyz
        mols.append(Molecule(name, z, pos, f"{path} line {i + 1}"))
        i = first + n
        # a line after the atoms that is neither blank nor a count line is caught by the next
        # iteration's count check (e.g. more atom lines than declared)
    if not mols:
        raise PredictError(f"{path}: no molecules found")
    return mols


def read_db(path: str | Path) -> list[Molecule]:
    """Every row of an ASE database (needs ``ase``)."""
    try:
        from ase.db import connect
    except ImportError:
        raise PredictError(
            f"{path}: reading ASE databases needs the 'ase' package (pip install ase)"
        ) from None
    elements = _elements()
    known = ", ".join(sorted(elements, key=elements.get))
    mols = []
    try:
        rows = list(connect(str(path)).select())
    except Exception as e:  # ase raises many kinds for a bad file
        raise PredictError(f"{path}: cannot read as an ASE database: {e}") from None
    for row in rows:
        where = f"{path} row id={row.id}"
        z = np.asarray(row.numbers, dtype=np.int64)
        pos = np.asarray(row.positions, dtype=np.float64)
        bad = [int(v) for v in z if int(v) not in elements.values()]
        if bad:
            raise PredictError(f"{where}: unknown element Z={bad[0]}; the model knows {known}")
        if z.size == 0:
            raise PredictError(f"{where}: empty molecule")
        if not np.isfinite(pos).all():
            raise PredictError(f"{where}: non-finite coordinates")
        name = row.get("name") or row.get("id_name") or f"{Path(path).stem}_{row.id}"
        mols.append(Molecule(str(name), z, pos, where))
    if not mols:
        raise PredictError(f"{path}: the database has no rows")
    return mols


def read_molecules(path: str | Path) -> list[Molecule]:
    """Molecules of an ASE database (``.db``) or an (extended) XYZ file (anything else)."""
    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    if path.suffix.lower() == ".db":
        return read_db(path)
    return read_xyz(path)


def load_task(ckpt: str | Path, map_location: str | torch.device = "cpu"):
    """Load a :class:`~regconv.training.RegressionTask` from a checkpoint path alone."""
    from regconv.training.task import RegressionTask

    ckpt = Path(ckpt)
    if not ckpt.is_file():
        raise PredictError(f"{ckpt}: no such checkpoint")
    try:
        device = torch.device(map_location)
    except (RuntimeError, TypeError) as e:
        raise PredictError(f"bad device {map_location!r}: {e}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PredictError(f"device {map_location!r} requested but CUDA is not available")
    try:
        task = RegressionTask.load_from_checkpoint(str(ckpt), map_location=map_location)
    except Exception as e:  # unpickling errors, missing keys, wrong hyperparameters, ...
        raise PredictError(f"{ckpt}: not a regconv checkpoint ({type(e).__name__}: {e})") from None
    task.eval()
    return task


def check_molecule_task(task, ckpt: str | Path = "checkpoint") -> TaskSpec:
    """Raise :class:`PredictError` unless ``task`` predicts graph-level targets from atomic
    numbers (what a molecule file provides)."""
    spec = task.spec
    if spec.kind != "graph" or spec.in_features != 0 or spec.vector_in != 0:
        raise PredictError(
            f"{ckpt} is a model of the {spec.dataset or 'unnamed'!r} task (kind {spec.kind!r}, "
            f"in_features {spec.in_features}, vector_in {spec.vector_in}); predicting from "
            "molecules needs a graph-level model on atomic numbers (e.g. a QM9 checkpoint)"
        )
    return spec


@torch.no_grad()
def predict_molecules(
    task, mols: list[Molecule], batch_size: int = 64, rotations: int | None = None
) -> np.ndarray:
    """Predictions ``[len(mols), T]`` (float64, units of the task's targets) with the
    evaluation (EMA) weights; ``rotations`` defaults to the checkpoint's ``test_rotations``."""
    from torch_geometric.data import Batch

    from regconv.data.qm9 import molecule_from_arrays

    check_molecule_task(task)
    datas = []
    for m in mols:
        try:
            datas.append(molecule_from_arrays(m.z, m.pos))
        except ValueError as e:
            raise PredictError(f"{m.where} ({m.name}): {e}") from None
    device = next(task.parameters()).device
    out = []
    for s in range(0, len(datas), batch_size):
        batch = Batch.from_data_list(datas[s : s + batch_size]).to(device)
        out.append(task(batch, rotations=rotations).double().cpu())
    return torch.cat(out).numpy()


def write_csv(task, mols: list[Molecule], preds: np.ndarray, path: str | Path | None) -> str:
    """CSV ``index,name,<target> [<unit>],...``; written atomically to ``path`` (if given).
    Returns the text."""
    spec = task.spec
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        ["index", "name"] + [f"{t.name} [{t.unit}]" if t.unit else t.name for t in spec.targets]
    )
    for i, (m, row) in enumerate(zip(mols, preds, strict=True)):
        w.writerow([i, m.name] + [format(float(v), ".9g") for v in row])
    text = buf.getvalue()
    if path is not None:
        atomic_write_text(path, text)
    return text
