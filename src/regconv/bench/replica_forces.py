"""Batched force functions for :class:`regconv.bench.md_replicas.ReplicaLangevin`: positions
``[R, N, 3]`` (float64, Å) of ``R`` replicas of one molecule in, forces ``[R, N, 3]`` (eV/Å)
out, one model call for all replicas.

- :class:`RegconvForces`: a regconv energy + force checkpoint (no test-time rotations: their
  draw would depend on how many replicas share the batch).
- :class:`MaceForces`: a MACE model (mace-torch, the ``bench`` extra), with the graphs built as
  MACE's own calculator builds them.

Each equals its ASE calculator per replica (``tests/bench/test_md_replicas.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["MaceForces", "RegconvForces"]


class RegconvForces:
    """Forces ``[R, N, 3]`` (eV/Å) of a regconv energy + force checkpoint on ``R`` replicas of
    the molecule with atomic numbers ``numbers``, one batch per call.

    Args:
        checkpoint: the ``RegressionTask`` checkpoint.
        numbers: ``[N]`` atomic numbers.
        dtype: ``"float32"`` or ``"float64"``.

    Shapes:
        ``__call__``: positions ``[R, N, 3]`` -> forces ``[R, N, 3]``.
    """

    def __init__(self, checkpoint: str, numbers: Sequence[int], *, dtype: str = "float32") -> None:
        import torch

        from regconv.ase import RegconvCalculator

        # the calculator's loading and checks (task kind, units, dtype), batched calls below
        self.calc = RegconvCalculator(checkpoint, dtype=dtype)
        self.z = torch.as_tensor(np.asarray(numbers), dtype=torch.long)

    def __call__(self, pos: np.ndarray) -> np.ndarray:
        from regconv.graph.molecules import MoleculeBatch

        calc = self.calc
        molecules = [(self.z, p) for p in pos]
        batch = MoleculeBatch.from_molecules(molecules, dtype=calc.dtype, device=calc.device)
        _, f = calc.task.energy_forces(batch)
        return f.double().cpu().numpy().reshape(pos.shape) * calc.forces_to_ev


class MaceForces:
    """Forces ``[R, N, 3]`` (eV/Å) of a MACE model on ``R`` replicas, one batch per call; the
    graphs are built as MACE's own calculator builds them (its cutoff, element table and head).

    Args:
        model: path of a ``.model`` file, or the model itself (one model: the first of a
            committee).
        numbers: ``[N]`` atomic numbers.
        dtype: ``"float32"`` or ``"float64"``.

    Shapes:
        ``__call__``: positions ``[R, N, 3]`` -> forces ``[R, N, 3]``.
    """

    def __init__(self, model, numbers: Sequence[int], *, dtype: str = "float32") -> None:
        from mace.calculators import MACECalculator

        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        path = isinstance(model, (str, Path))
        kw = {"model_paths": str(model)} if path else {"models": model}
        self.calc = MACECalculator(device="cpu", default_dtype=dtype, **kw)
        self.model = self.calc.models[0]
        self.numbers = np.asarray(numbers)
        self.dtype = dtype

    def __call__(self, pos: np.ndarray) -> np.ndarray:
        from mace import data as mace_data
        from mace.tools import torch_geometric, torch_tools

        from ase import Atoms

        arrays = {**self.calc.arrays_keys, self.calc.charges_key: "charges"}  # as MACE does
        keys = mace_data.KeySpecification(info_keys=self.calc.info_keys, arrays_keys=arrays)
        graphs = []
        with torch_tools.default_dtype(self.dtype):
            for p in pos:
                config = mace_data.config_from_atoms(
                    Atoms(numbers=self.numbers, positions=p), key_specification=keys,
                    head_name=self.calc.head,
                )  # fmt: skip
                graphs.append(
                    mace_data.AtomicData.from_config(
                        config,
                        z_table=self.calc.z_table,
                        cutoff=self.calc.r_max,
                        heads=self.calc.available_heads,
                    )  # fmt: skip
                )
        batch = torch_geometric.Batch.from_data_list(graphs).to_dict()
        out = self.model(batch, compute_stress=False, training=False)
        f = out["forces"].detach().double().numpy().reshape(pos.shape)
        return f * self.calc.energy_units_to_eV / self.calc.length_units_to_A
