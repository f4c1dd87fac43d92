"""The molecular-dynamics checks of ``regconv md-check`` (NVE drift, stability) on a MACE model,
its forces batched over the replicas as for a regconv model (:class:`MaceForces`), so the two
stability runs of BENCHMARKS.md compare like with like.

::

    python -m benchmarks mace-md nve --mace-model M.model --input start.xyz \\
        --temperatures 300 500 --ps 10 [--out DIR]
    python -m benchmarks mace-md stability --mace-model M.model --input start.xyz \\
        --runs 10 --ps 5 --temperature 500 [--out DIR]

The options and outputs of ``regconv md-check``, with ``--mace-model`` (a MACE ``.model`` file;
mace-torch, the ``bench`` extra) in place of ``--ckpt``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["MaceForces", "main"]


class MaceForces:
    """Energies ``[R]`` (eV) and forces ``[A, 3]`` (eV/Å) of a MACE model on ``R`` molecules,
    one batch per call (a :class:`regconv.md.ForceField`); the graphs are built as MACE's own
    calculator builds them (its cutoff, element table and head).

    Args:
        model: path of a ``.model`` file, or the model itself (one model: the first of a
            committee).
        device: torch device.
        dtype: ``"float32"`` or ``"float64"``.

    Shapes:
        ``__call__``: ``numbers`` ``R`` arrays ``[N_r]``, ``positions`` ``R`` arrays
        ``[N_r, 3]`` -> energies ``[R]``, forces ``[A, 3]``.
    """

    def __init__(self, model, *, device: str = "cpu", dtype: str = "float32") -> None:
        from mace.calculators import MACECalculator

        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        path = isinstance(model, (str, Path))
        if path and not Path(model).is_file():
            raise ValueError(f"{model}: no such MACE model file")
        kw = {"model_paths": str(model)} if path else {"models": model}
        self.calc = MACECalculator(device=device, default_dtype=dtype, **kw)
        self.model = self.calc.models[0]
        self.dtype = dtype

    def __call__(
        self, numbers: Sequence[np.ndarray], positions: Sequence[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        from mace import data as mace_data
        from mace.tools import torch_geometric, torch_tools

        from ase import Atoms

        calc = self.calc
        arrays = {**calc.arrays_keys, calc.charges_key: "charges"}  # as MACE does
        keys = mace_data.KeySpecification(info_keys=calc.info_keys, arrays_keys=arrays)
        graphs = []
        with torch_tools.default_dtype(self.dtype):
            for z, p in zip(numbers, positions, strict=True):
                config = mace_data.config_from_atoms(
                    Atoms(numbers=z, positions=p), key_specification=keys, head_name=calc.head
                )
                graphs.append(
                    mace_data.AtomicData.from_config(
                        config,
                        z_table=calc.z_table,
                        cutoff=calc.r_max,
                        heads=calc.available_heads,
                    )  # fmt: skip
                )
        batch = torch_geometric.Batch.from_data_list(graphs).to(calc.device).to_dict()
        out = self.model(batch, compute_stress=False, training=False)
        e = out["energy"].detach().double().cpu().numpy() * calc.energy_units_to_eV
        f = out["forces"].detach().double().cpu().numpy()
        return e, f * calc.energy_units_to_eV / calc.length_units_to_A


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks mace-md nve|stability --mace-model M ...``; the exit code."""
    from regconv.cli.md_check import run_md_check

    argv = list(sys.argv[1:] if argv is None else argv)
    argv = ["--ckpt" if a == "--mace-model" else a for a in argv]

    def load(path: str, *, device: str, dtype: str) -> MaceForces:
        return MaceForces(path, device=device, dtype=dtype)

    return run_md_check(argv, load_forces=load, prog="python -m benchmarks mace-md")


if __name__ == "__main__":
    sys.exit(main())
