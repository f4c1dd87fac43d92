"""Predictions for molecules read from (extended) XYZ files or ASE databases.

``regconv predict --ckpt PATH --input molecules.xyz [--output preds.csv]`` (see
:mod:`regconv.cli.predict`) uses these functions; they are usable from Python as well::

    task = load_task("runs/qm9/.../checkpoints/best.ckpt")
    mols = read_molecules("molecules.xyz")
    rows = predict_molecules(task, mols)
    write_csv(task, mols, rows, "preds.csv")

The input formats and their reader are those of :mod:`regconv.data.molecules` (re-exported here:
``Molecule``, ``read_molecules``, ``read_xyz``, ``read_db``). Every problem (unknown element, wrong
column count, non-numeric or non-finite coordinates, a truncated frame, a checkpoint of a task
that does not take molecules) raises :class:`PredictError` naming the file, line or molecule.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch

from regconv.data.molecules import (
    Molecule,
    MoleculeError,
    molecule_arrays,
    read_db,
    read_molecules,
    read_xyz,
)
from regconv.graph.molecules import MoleculeBatch
from regconv.training.spec import TaskSpec
from regconv.utils.io import atomic_write_text

__all__ = [
    "Molecule",
    "PredictError",
    "check_molecule_task",
    "load_task",
    "predict_molecules",
    "read_db",
    "read_molecules",
    "read_xyz",
    "write_csv",
]


PredictError = MoleculeError
"""Bad input for prediction (a molecule file or a checkpoint); the message names the file and
line or molecule. The reader's own error class, so one ``except`` catches both kinds."""


def load_task(
    ckpt: str | Path,
    map_location: str | torch.device = "cpu",
    model_options: dict | None = None,
):
    """The :class:`~regconv.training.inference.Predictor` of a checkpoint path alone (without
    Lightning: :meth:`Predictor.from_checkpoint`, with its ``model_options`` overrides), in
    evaluation mode."""
    from regconv.training.inference import Predictor

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
        return Predictor.from_checkpoint(ckpt, map_location=device, model_options=model_options)
    except Exception as e:  # unpickling errors, missing keys, wrong hyperparameters, ...
        raise PredictError(f"{ckpt}: not a regconv checkpoint ({type(e).__name__}: {e})") from None


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
    check_molecule_task(task)
    arrays = []
    for m in mols:
        try:
            arrays.append(molecule_arrays(m.z, m.pos))
        except ValueError as e:
            raise PredictError(f"{m.where} ({m.name}): {e}") from None
    device = next(task.parameters()).device
    out = []
    for s in range(0, len(arrays), batch_size):
        batch = MoleculeBatch.from_molecules(arrays[s : s + batch_size], device=device)
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
