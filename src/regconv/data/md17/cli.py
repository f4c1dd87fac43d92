"""``python -m regconv.data.md17 {generate,summary}``: generate (or verify) a GFN2-xTB set, or
print the statistics of a data file in meV and meV/Å."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from regconv.data.md17 import generate as gen
from regconv.data.md17.catalog import MOLECULES

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``argv`` without the program name; default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        prog="python -m regconv.data.md17",
        description="MD17-class energy + force data (the generated sets are GFN2-xTB, not DFT).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="generate a GFN2-xTB Langevin set into the cache")
    g.add_argument("--molecule", required=True, help=f"one of {', '.join(MOLECULES)}")
    g.add_argument("--frames", type=int, default=gen.FRAMES, help="recorded frames")
    g.add_argument("--every", type=int, default=gen.EVERY, help="MD steps between frames")
    g.add_argument("--equilibration", type=int, default=gen.EQUILIBRATION, help="MD steps first")
    g.add_argument("--seed", type=int, default=0, help="seed of the geometry, momenta and noise")
    g.add_argument("--temperature", type=float, default=gen.TEMPERATURE_K, help="K")
    g.add_argument("--root", default=None, help="cache folder (default: cache_dir()/md17)")
    g.add_argument("--force", action="store_true", help="regenerate even if the cache verifies")
    s = sub.add_parser("summary", help="frames, atoms, energy and force statistics in meV")
    s.add_argument("--path", required=True, help=".npz (rMD17, sGDML, generated), .xyz or .db")
    s.add_argument("--energy-key", default="energy", help="energy key (extxyz, ASE db)")
    s.add_argument("--forces-key", default="forces", help="forces key (extxyz, ASE db)")
    s.add_argument("--format", default=None, help="rmd17, sgdml, regconv, extxyz or ase-db")
    s.add_argument("--json", action="store_true", help="print the statistics as JSON")
    args = parser.parse_args(argv)

    if args.command == "generate":
        from regconv.data.md17.cache import ensure_generated

        path = ensure_generated(
            args.molecule,
            args.seed,
            frames=args.frames,
            every=args.every,
            equilibration=args.equilibration,
            temperature=args.temperature,
            root=args.root,
            force=args.force,
        )
        meta = json.loads(path.with_suffix(".json").read_text())
        print(f"{path}")
        print(f"sha256 (arrays): {meta['data_sha256']}")
        print(f"sha256 (file):   {meta['file_sha256']}")
        return 0

    from regconv.data.md17.readers import read_frames
    from regconv.data.md17.stats import format_summary, summary

    frames = read_frames(
        args.path, energy_key=args.energy_key, forces_key=args.forces_key, format=args.format
    )
    stats = summary(frames)
    print(json.dumps(stats, indent=2) if args.json else format_summary(stats))
    return 0
