"""The ``regconv`` command: chooses the subcommand, turns usage errors into exit codes.

::

    regconv fit      --config configs/qm9_quick.yaml [--key value ...]
    regconv fit      --config configs/qm9_quick.yaml --run_dir runs/homo --ckpt_path last  # resume
    regconv validate --config configs/qm9_quick.yaml --ckpt_path runs/.../checkpoints/best.ckpt
    regconv test     --config configs/qm9_quick.yaml --ckpt_path runs/.../checkpoints/best.ckpt
    regconv predict  --ckpt runs/.../checkpoints/best.ckpt --input molecules.xyz [--output p.csv]
    regconv md       --ckpt C --input mol.xyz --steps N --output traj.xyz [--log md.csv]
    regconv relax    --ckpt C --input mol.xyz --fmax 0.01 --output relaxed.xyz
    regconv md-check nve|stability --ckpt C --input mol.xyz --ps 10 [--out DIR]
    regconv bench    throughput|device-throughput|grid-error [options]

``fit``, ``validate`` and ``test``: :mod:`regconv.cli.fit` (the LightningCLI, its options and
the run folder); ``predict``: :mod:`regconv.cli.predict`; ``md``: :mod:`regconv.cli.md`;
``relax``: :mod:`regconv.cli.relax`; ``md-check``: :mod:`regconv.cli.md_check`;
``bench``: :mod:`regconv.cli.bench`.
Each is imported only when its command runs (``regconv predict`` does not load Lightning's CLI).
"""

from __future__ import annotations

import sys
import time

__all__ = ["main"]

_USAGE = """usage: regconv {fit,validate,test,predict,md,relax,md-check,bench} ...

  fit       train a model (LightningCLI): regconv fit --config configs/qm9_quick.yaml
  validate  evaluate a checkpoint on the validation split
  test      evaluate a checkpoint on the test split
  predict   predict for molecules: regconv predict --ckpt PATH --input molecules.xyz
  md        molecular dynamics: regconv md --ckpt PATH --input mol.xyz --steps N --output t.xyz
  relax     geometry relaxation: regconv relax --ckpt PATH --input mol.xyz --output r.xyz
  md-check  NVE drift / stability: regconv md-check nve|stability --ckpt PATH --input mol.xyz
  bench     benchmarks: regconv bench {throughput,device-throughput,grid-error} [options]

Run 'regconv COMMAND --help' for the options of a command.
"""


def _exit_code(e: SystemExit) -> int:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``regconv`` command; returns the exit code."""
    started = time.perf_counter()  # the start of the command, for the wall times
    from_sys = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    try:  # argparse and jsonargparse report usage errors (and --help) by exiting
        if command == "predict":
            from regconv.cli.predict import run_predict

            return run_predict(rest)
        if command == "md":
            from regconv.cli.md import run_md

            return run_md(rest)
        if command == "relax":
            from regconv.cli.relax import run_relax

            return run_relax(rest)
        if command == "md-check":
            from regconv.cli.md_check import run_md_check

            return run_md_check(rest)
        if command == "bench":
            from regconv.cli.bench import run_bench

            return run_bench(rest)
        if command in ("fit", "validate", "test"):
            from regconv.cli.fit import run_lightning

            return run_lightning(None if from_sys else argv, started=started)
    except SystemExit as e:
        return _exit_code(e)
    print(f"regconv: unknown command {command!r}\n\n{_USAGE}", file=sys.stderr, flush=True)
    return 2


if __name__ == "__main__":
    sys.exit(main())
