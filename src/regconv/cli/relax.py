"""``regconv relax``: relax one molecule or crystal with a trained energy + force model.

::

    regconv relax --ckpt C --input mol.xyz --fmax 0.01 --output relaxed.xyz [--optimizer bfgs|fire]
    regconv relax --ckpt C --input cell.xyz --cell [--pressure 0] --output relaxed.xyz

``--cell`` relaxes the cell of a periodic structure too (ASE's ``FrechetCellFilter``) at
``--pressure`` GPa; the output then carries the stress.

The model runs in float64 (relaxations need precise forces). The relaxed structure, with its
energy and forces, is written atomically; exit 0 when the largest force fell below ``--fmax``
(eV/Å), 1 otherwise (the last structure is still written) or on bad input (nothing written).
The relaxation itself is :func:`regconv.md.relax`.
"""

from __future__ import annotations

import argparse
import sys

from regconv.utils.checks import check_int, check_positive

__all__ = ["build_parser", "run_relax"]


def build_parser() -> argparse.ArgumentParser:
    """The options of ``regconv relax``."""
    p = argparse.ArgumentParser(prog="regconv relax", description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", required=True, help="checkpoint of an energy + force run")
    p.add_argument("--input", required=True, help="one molecule: .xyz / .extxyz or ASE .db")
    p.add_argument("--output", required=True, help="relaxed structure, extended XYZ")
    p.add_argument("--fmax", type=float, default=0.01, help="largest force at convergence, eV/Å")
    p.add_argument("--steps", type=int, default=1000, help="largest number of optimizer steps")
    p.add_argument("--optimizer", choices=("bfgs", "fire"), default="bfgs")
    p.add_argument("--cell", action="store_true", help="relax the cell too (periodic input)")
    p.add_argument("--pressure", type=float, default=None, help="GPa, with --cell (0)")
    p.add_argument("--device", default="cpu", help="torch device")
    return p


def run_relax(argv: list[str]) -> int:
    """``regconv relax ...``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_positive("--fmax", args.fmax)
        check_int("--steps", args.steps, minimum=1)
    except ValueError as e:
        parser.error(str(e))
    if args.pressure is not None and not args.cell:
        parser.error("--pressure is the pressure of --cell relaxations")
    from regconv.ase import RegconvCalculator
    from regconv.md import frame_text, read_one_molecule, relax
    from regconv.utils.io import atomic_write_text

    try:
        atoms = read_one_molecule(args.input)
        atoms.calc = RegconvCalculator(args.ckpt, device=args.device, dtype="float64")
        atoms.get_potential_energy()  # unknown elements and the like fail here
    except ValueError as e:
        print(f"regconv relax: error: {e}", file=sys.stderr, flush=True)
        return 1
    try:
        result = relax(atoms, fmax=args.fmax, steps=args.steps, optimizer=args.optimizer,
                       cell=args.cell, pressure_GPa=args.pressure or 0.0)  # fmt: skip
    except ValueError as e:
        print(f"regconv relax: error: {e}", file=sys.stderr, flush=True)
        return 1
    info = {"converged": result.converged, "steps": result.steps}
    stress = atoms.get_stress(voigt=False) if all(atoms.pbc) else None
    atomic_write_text(args.output,
                      frame_text(atoms, result.energy, result.forces, info, stress=stress))  # fmt: skip
    state = "converged" if result.converged else f"NOT converged after {result.steps} steps"
    print(
        f"regconv relax: {state}; energy {result.start_energy:.6f} -> {result.energy:.6f} eV, "
        f"max force {result.fmax:.4f} eV/Å, {result.steps} steps; wrote {args.output}",
        file=sys.stderr,
        flush=True,
    )
    return 0 if result.converged else 1
