"""Molecular-dynamics speed: velocity-Verlet steps per second through ASE, regconv models and
MACE side by side in one run, on one molecule (default aspirin from its SMILES) or a periodic
box (``--crystal copper --repeat 5``: the 5 x 5 x 5 conventional fcc cell, 500 atoms).

::

    python -m benchmarks md-speed --models \\
        "r3s2:hidden=64,layers=4,space.num_orientations=8,basis.dim=64,cutoff=5.0" \\
        "schnet:hidden=64,layers=3,num_rbf=32,cutoff=5.0" --mace 64x0e+64x1o --steps 200 --threads 2
    python -m benchmarks md-speed --crystal copper --repeat 5 --models --ckpt CU.ckpt \\
        --mace-models CU.model --steps 20 --threads 1

Speed does not depend on the weights, so models are untrained unless ``--ckpt`` gives trained
ones (then compare force errors separately). ``--compile`` adds a run of each regconv model
under ``torch.compile`` (its compilation timed apart, as ``first_call_s``; a failure to
compile is a line with ``"error"``). A regconv model
runs through :class:`regconv.ase.RegconvCalculator`, MACE through its own ``MACECalculator``
(``mace-torch``, the ``bench`` extra; not a dependency of regconv). One JSON line per model:
parameters, warm-up and timed steps, steps/s, ms/step.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from regconv.bench import machine_info
from regconv.bench.specs import parse_spec

__all__ = ["main", "regconv_checkpoint", "time_md"]


def regconv_checkpoint(spec: str, path: Path, molecule_z: np.ndarray) -> Path:
    """An untrained energy + force checkpoint of the model ``spec`` (statistics of 1 meV/atom
    and 100 meV/Å: only the speed is measured)."""
    from regconv.training import RegressionTask, energy_forces_task

    name, options = parse_spec(spec)
    if int(np.max(molecule_z)) > 9 and "max_z" not in options:  # the elements it runs on
        options["max_z"] = int(np.max(molecule_z))
    torch.manual_seed(0)
    task = RegressionTask(name, options, task=energy_forces_task("speed"), ema_decay=None)
    n = len(molecule_z)
    task.set_statistics({
        "energy": torch.full((2,), -1.0 * n, dtype=torch.float64),
        "num_atoms": torch.full((2,), n, dtype=torch.long),
        "forces": torch.full((2 * n, 3), 100.0, dtype=torch.float64),
    })  # fmt: skip
    import lightning.pytorch as L

    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, max_epochs=0,
    )  # fmt: skip
    trainer.strategy.connect(task)
    trainer.save_checkpoint(path)
    return path


def mace_model(irreps: str, z: np.ndarray, path: Path, r_max: float = 5.0) -> Path:
    """An untrained MACE (2 interactions, ``max_ell`` 3, correlation 3, 8 Bessel functions,
    ``r_max`` 5 Å, residual interaction blocks: MACE's defaults) saved for ``MACECalculator``."""
    import importlib

    from mace import modules

    # after mace, which allows the pickled globals e3nn 0.4.4 loads under torch 2.13
    o3 = importlib.import_module("e3nn.o3")
    elements = sorted(set(int(x) for x in z))
    torch.manual_seed(0)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        atomic_inter_scale=1.0, atomic_inter_shift=0.0, r_max=r_max, num_bessel=8,
        num_polynomial_cutoff=5, max_ell=3, interaction_cls=block, interaction_cls_first=block,
        num_interactions=2, num_elements=len(elements), hidden_irreps=o3.Irreps(irreps),
        MLP_irreps=o3.Irreps("16x0e"), atomic_energies=np.zeros(len(elements)),
        avg_num_neighbors=float(len(z) - 1), atomic_numbers=elements, correlation=3,
        gate=torch.nn.functional.silu,
    )  # fmt: skip
    torch.save(model, path)
    return path


def time_md(atoms, calc, steps: int, warmup: int) -> dict[str, float]:
    """Velocity-Verlet at 0.5 fs from 300 K: ``warmup`` untimed steps, then ``steps`` timed."""
    from ase.md.velocitydistribution import thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    from ase import units

    atoms = atoms.copy()
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    dyn.run(warmup)
    start = time.perf_counter()
    dyn.run(steps)
    seconds = time.perf_counter() - start
    return {
        "steps": steps,
        "warmup": warmup,
        "seconds": round(seconds, 3),
        "steps_per_s": round(steps / seconds, 2),
        "ms_per_step": round(1e3 * seconds / steps, 2),
    }


def compile_net(calc, atoms) -> dict[str, float]:
    """Replace the calculator's network by ``torch.compile(net, dynamic=False)`` (one molecule:
    the shapes do not change between steps) and time the first call, which compiles."""
    calc.task.net = torch.compile(calc.task.net, dynamic=False)
    probe = atoms.copy()
    probe.calc = calc
    start = time.perf_counter()
    probe.get_forces()
    return {"first_call_s": round(time.perf_counter() - start, 2)}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks md-speed", description=__doc__)
    p.add_argument("--models", nargs="*", default=["schnet:hidden=64,layers=3,num_rbf=32"],
                   help="regconv model specs NAME[:key=value,...]")  # fmt: skip
    p.add_argument("--ckpt", nargs="*", default=[], help="trained energy + force checkpoints")
    p.add_argument("--mace", nargs="*", default=[], help="MACE hidden irreps, e.g. 64x0e+64x1o")
    p.add_argument("--mace-models", nargs="*", default=[], help="trained MACE .model files")
    p.add_argument("--molecule", default="aspirin", help="start geometry (RDKit, MMFF)")
    p.add_argument("--crystal", choices=("copper",), default=None,
                   help="a periodic box instead of the molecule: fcc copper")  # fmt: skip
    p.add_argument("--repeat", type=int, default=5, help="conventional cells per axis (5: 500)")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--compile", action="store_true",
                   help="also time each regconv model under torch.compile")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.threads < 1:
        raise SystemExit("need --steps >= 1, --warmup >= 0, --threads >= 1")
    torch.set_num_threads(args.threads)
    from ase import Atoms
    from regconv.ase import RegconvCalculator
    from regconv.data.md17.catalog import start_geometry

    if args.crystal is not None:
        from regconv.data.crystals import copper_cell

        if args.repeat < 1:
            raise SystemExit("need --repeat >= 1")
        atoms = copper_cell(args.repeat)
        atoms.rattle(0.02, seed=0)
        z = atoms.numbers
        system = {"crystal": args.crystal, "repeat": args.repeat}
    else:
        z, pos = start_geometry(args.molecule)
        atoms = Atoms(numbers=z, positions=pos)
        system = {"molecule": args.molecule}
    head = {**system, "atoms": len(z), "threads": args.threads, "dtype": args.dtype,
            **machine_info()}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            (spec, regconv_checkpoint(spec, Path(tmp) / f"m{i}.ckpt", z))
            for i, spec in enumerate(args.models)
        ] + [(c, Path(c)) for c in args.ckpt]
        for label, ckpt in runs:
            for compiled in (False, True) if args.compile else (False,):
                calc = RegconvCalculator(str(ckpt), dtype=args.dtype)
                params = sum(p.numel() for p in calc.task.net.parameters())
                rec = {"model": label, "kind": "regconv", "parameters": params}
                if compiled:
                    rec["compile"] = True
                    try:
                        rec.update(compile_net(calc, atoms))
                    except Exception as e:  # a compiler failure is a result, not a crash
                        _emit({**head, **rec, "error": f"{type(e).__name__}: {e}"[:500]})
                        continue
                _emit({**head, **rec, **time_md(atoms, calc, args.steps, args.warmup)})
        maces = [(f"mace:{irreps}", mace_model(irreps, z, Path(tmp) / f"mace{i}.model"))
                 for i, irreps in enumerate(args.mace)]  # fmt: skip
        for label, path in maces + [(m, Path(m)) for m in args.mace_models]:
            from mace.calculators import MACECalculator

            calc = MACECalculator(model_paths=str(path), device="cpu", default_dtype=args.dtype)
            params = sum(p.numel() for p in calc.models[0].parameters())
            rec = {"model": label, "kind": "mace", "parameters": params}
            _emit({**head, **rec, **time_md(atoms, calc, args.steps, args.warmup)})
    return 0


def _emit(record: dict) -> None:
    print(json.dumps(record), flush=True)
