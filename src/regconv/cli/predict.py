"""``regconv predict``: the targets of a trained model for the molecules of a file.

Only argparse at start-up; the model code is imported once the arguments are valid.
"""

from __future__ import annotations

import argparse
import sys

from regconv.utils.checks import check_int

__all__ = ["build_parser", "run_predict"]


def build_parser() -> argparse.ArgumentParser:
    """The options of ``regconv predict``."""
    parser = argparse.ArgumentParser(
        prog="regconv predict",
        description="Predict the targets of a trained QM9-type model for molecules in an "
        "(extended) XYZ file or an ASE database (.db). Writes CSV (atomically) with the units "
        "in the header.",
    )
    parser.add_argument("--ckpt", required=True, help="checkpoint (.ckpt) of a regconv run")
    parser.add_argument("--input", required=True, help="molecules: .xyz / .extxyz or ASE .db")
    parser.add_argument("--output", default=None, help="CSV file (default: standard output)")
    parser.add_argument("--batch_size", type=int, default=64, help="molecules per batch")
    parser.add_argument(
        "--rotations",
        type=int,
        default=None,
        help="average over this many random rotations (default: the checkpoint's test_rotations)",
    )
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    return parser


def run_predict(argv: list[str]) -> int:
    """``regconv predict --ckpt PATH --input FILE [--output CSV]``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_int("--batch_size", args.batch_size, minimum=1)
        if args.rotations is not None:
            check_int("--rotations", args.rotations, minimum=0)
    except ValueError as e:
        parser.error(str(e))

    from regconv.training.predict import (
        PredictError,
        check_molecule_task,
        load_task,
        predict_molecules,
        read_molecules,
        write_csv,
    )

    try:
        task = load_task(args.ckpt, map_location=args.device)
        check_molecule_task(task, args.ckpt)
        mols = read_molecules(args.input)
        preds = predict_molecules(task, mols, args.batch_size, args.rotations)
        text = write_csv(task, mols, preds, args.output)
    except PredictError as e:
        print(f"regconv predict: error: {e}", file=sys.stderr, flush=True)
        return 1
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        print(
            f"regconv predict: wrote {len(mols)} prediction(s) to {args.output}",
            file=sys.stderr,
            flush=True,
        )
    return 0
