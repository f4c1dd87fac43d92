"""``python -m regconv.data.nbody {generate,summary}``: write (or verify) the splits, or print their
statistics."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from regconv.data.nbody.files import generate
from regconv.data.nbody.initial import SOURCES, SPLITS
from regconv.data.nbody.stats import format_summary, summary

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line (``argv`` without the program name; default ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        prog="python -m regconv.data.nbody", description="Charged N-body data set."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="write the splits to the cache (or verify them)")
    g.add_argument("--out", default=None, help="directory (default: cache_dir()/nbody)")
    g.add_argument("--force", action="store_true", help="rebuild even if the cache verifies")
    g.add_argument("--split", choices=SPLITS, action="append", help="only this split")
    g.add_argument("--source", choices=SOURCES, default="regconv", help="initial states")
    s = sub.add_parser("summary", help="print summary statistics (generates if needed)")
    s.add_argument("--out", default=None, help="directory (default: cache_dir()/nbody)")
    s.add_argument("--split", choices=SPLITS, action="append", help="only this split")
    s.add_argument("--source", choices=SOURCES, default="regconv", help="initial states")
    args = parser.parse_args(argv)
    splits = tuple(args.split) if args.split else SPLITS
    if args.command == "generate":
        t0 = time.perf_counter()
        paths = generate(args.out, force=args.force, splits=splits, source=args.source)
        for split, path in paths.items():
            print(f"{split}: {path}")
        print(f"done in {time.perf_counter() - t0:.1f} s")
    else:
        print(format_summary(summary(args.out, splits, source=args.source)))
    return 0
