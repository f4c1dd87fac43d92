"""Summary statistics of energy + force frames (meV, meV/Å) and their printout."""

from __future__ import annotations

from typing import Any

import numpy as np

from regconv.data.md17.frames import Frames

__all__ = ["format_summary", "summary"]


def summary(frames: Frames) -> dict[str, Any]:
    """Frames, atoms, elements and energy / force statistics (meV, meV/Å) of ``frames``:
    ``{"source", "format", "frames", "atoms_min", "atoms_max", "elements": {Z: count per
    frame 0}, "energy": {mean, std, min, max}, "energy_per_atom_mean", "force_component":
    {mean, std, rms, max_abs}, "force_norm_mean", "units"}``."""
    e, f = frames.energy, frames.forces
    n = frames.natoms
    elems, counts = np.unique(frames.z[: n[0]], return_counts=True)
    norms = np.linalg.norm(f, axis=1)
    return {
        "source": frames.source,
        "format": frames.format,
        "frames": frames.num_frames,
        "atoms_min": int(n.min()),
        "atoms_max": int(n.max()),
        "elements": {int(z): int(c) for z, c in zip(elems, counts, strict=True)},
        "energy": {
            "mean": float(e.mean()),
            "std": float(e.std()),
            "min": float(e.min()),
            "max": float(e.max()),
        },
        "energy_per_atom_mean": float((e / n).mean()),
        "force_component": {
            "mean": float(f.mean()),
            "std": float(f.std()),
            "rms": float(np.sqrt((f**2).mean())),
            "max_abs": float(np.abs(f).max()),
        },
        "force_norm_mean": float(norms.mean()),
        "units": {"energy": "meV", "forces": "meV/A", "pos": "A"},
        "original_units": {
            k: frames.metadata[k] for k in ("energy_unit", "force_unit") if k in frames.metadata
        },
    }


def format_summary(s: dict[str, Any]) -> str:
    """The text the ``summary`` command prints for a :func:`summary` dict."""
    atoms = (
        str(s["atoms_min"])
        if s["atoms_min"] == s["atoms_max"]
        else (f"{s['atoms_min']}..{s['atoms_max']}")
    )
    e, fc = s["energy"], s["force_component"]
    orig = ", ".join(f"{k} {v}" for k, v in s["original_units"].items())
    lines = [
        f"{s['source']} ({s['format']}{', read from ' + orig if orig else ''})",
        f"frames: {s['frames']:,}   atoms per frame: {atoms}   elements (frame 0): "
        + ", ".join(f"Z={z} x{c}" for z, c in s["elements"].items()),
        f"energy [meV]: mean {e['mean']:.3f}  std {e['std']:.3f}  min {e['min']:.3f}  "
        f"max {e['max']:.3f}  (mean per atom {s['energy_per_atom_mean']:.3f})",
        f"force components [meV/A]: mean {fc['mean']:.4f}  std {fc['std']:.3f}  "
        f"rms {fc['rms']:.3f}  max |F| {fc['max_abs']:.3f}   mean |F_i| {s['force_norm_mean']:.3f}",
    ]
    return "\n".join(lines)
