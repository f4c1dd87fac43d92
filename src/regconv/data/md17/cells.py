r"""The periodic cell, periodicity and stress of one labelled frame, read from its record.

Extended XYZ (ASE's and MACE's convention) writes them on the comment line:
``Lattice="a1x a1y a1z a2x a2y a2z a3x a3y a3z"`` (rows: lattice vectors, Å), ``pbc="T T T"``
(``Lattice`` without ``pbc`` is periodic along all three axes) and ``stress=`` with 9 numbers
(a 3 x 3 matrix, row-major) or 6 (Voigt: ``xx yy zz yz xz xy``) in eV/Å^3, or ``virial=`` in eV
(``stress = -virial / V``). ASE databases store the row's cell, pbc and stress, which the
molecule reader passes under the same names.

Bad input raises ``ValueError`` naming the file and frame: a cell that is not 9 finite numbers,
``pbc`` without a cell, a singular cell (linearly dependent periodic lattice vectors), a
left-handed cell, non-finite stress or virial, stress of a frame not periodic along all axes.
Stress on some frames only is no stress target (the frames record the first without one).

Shapes: a frame's cell ``[3, 3]`` (rows: lattice vectors), pbc ``[3]``, stress ``[3, 3]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["frame_cell", "frame_stress"]

_TRUE = {"t", "true", "1"}
_FALSE = {"f", "false", "0"}


def _get(properties: dict[str, Any], key: str) -> Any:
    """``properties[key]``, the key matched without regard to case."""
    if key in properties:
        return properties[key]
    lower = {k.lower(): k for k in properties}
    return properties[lower[key.lower()]] if key.lower() in lower else None


def _numbers(value: Any, count: tuple[int, ...], what: str, where: str) -> np.ndarray:
    if isinstance(value, str):
        try:
            value = [float(v) for v in value.replace(",", " ").split()]
        except ValueError:
            raise ValueError(f"{where}: {what} must be numbers, got {value!r}") from None
    array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size not in count:
        need = " or ".join(map(str, count))
        raise ValueError(f"{where}: {what} must hold {need} numbers, got {array.size}")
    if not np.isfinite(array).all():
        raise ValueError(f"{where}: {what} is not finite: {array.tolist()}")
    return array


def _pbc(value: Any, where: str) -> np.ndarray:
    if isinstance(value, str):
        words = value.replace(",", " ").split()
        flags = []
        for w in words:
            if w.lower() in _TRUE:
                flags.append(True)
            elif w.lower() in _FALSE:
                flags.append(False)
            else:
                raise ValueError(f"{where}: pbc must be T or F per axis, got {value!r}")
        if len(flags) == 1:
            flags *= 3
    else:
        flags = np.asarray(value, dtype=bool).reshape(-1).tolist()
    if len(flags) != 3:
        raise ValueError(f"{where}: pbc must name 3 axes, got {value!r}")
    return np.asarray(flags, dtype=bool)


def frame_cell(
    properties: dict[str, Any], where: str
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The frame's ``cell [3, 3]`` (Å) and ``pbc [3]``, or ``(None, None)`` for a molecule (no
    ``Lattice``, no periodic axis)."""
    lattice = _get(properties, "Lattice")
    pbc_value = _get(properties, "pbc")
    if lattice is None:
        if pbc_value is not None and _pbc(pbc_value, where).any():
            raise ValueError(f"{where}: pbc is set but the frame has no cell (Lattice)")
        return None, None
    cell = _numbers(lattice, (9,), "the cell (Lattice)", where).reshape(3, 3)
    pbc = np.ones(3, dtype=bool) if pbc_value is None else _pbc(pbc_value, where)
    if not pbc.any():
        return None, None
    rows = cell[pbc]
    scale = float(np.abs(rows).max())
    if scale == 0.0 or np.linalg.matrix_rank(rows, tol=1e-8 * scale) < rows.shape[0]:
        raise ValueError(
            f"{where}: singular cell: the periodic lattice vectors are linearly dependent "
            f"({cell.tolist()})"
        )
    det = float(np.linalg.det(cell))
    if det < 0:
        raise ValueError(
            f"{where}: left-handed cell (determinant {det:.6g} Å^3): list the lattice vectors "
            "in right-handed order"
        )
    return cell, pbc


def frame_stress(
    properties: dict[str, Any],
    where: str,
    cell: np.ndarray | None,
    pbc: np.ndarray | None,
    *,
    stress_key: str = "stress",
    virial_key: str = "virial",
) -> np.ndarray | None:
    """The frame's stress ``[3, 3]`` in eV/Å^3 from ``stress_key`` (9 or 6 Voigt numbers, eV/Å^3)
    or else ``virial_key`` (9 or 6 numbers, eV; ``-virial / V``), or None if it has neither."""
    stress = _get(properties, stress_key)
    virial = None if stress is not None else _get(properties, virial_key)
    if stress is None and virial is None:
        return None
    key = stress_key if stress is not None else virial_key
    if cell is None or not pbc.all():
        raise ValueError(f"{where}: {key!r} is given but the frame is not periodic along all axes")
    values = _numbers(stress if stress is not None else virial, (6, 9), key, where)
    if values.size == 6:
        xx, yy, zz, yz, xz, xy = values
        matrix = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    else:
        matrix = values.reshape(3, 3)
    if stress is None:
        matrix = -matrix / abs(float(np.linalg.det(cell)))
    return matrix
