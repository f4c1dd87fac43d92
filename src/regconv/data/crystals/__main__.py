"""``python -m regconv.data.crystals``: build (or verify) the generated copper set and print
its path and a summary."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from regconv.data.crystals import generate as gen

    parser = argparse.ArgumentParser(
        prog="python -m regconv.data.crystals",
        description="Generate bulk copper frames on ASE's EMT (energies, forces, stress).",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=gen.FRAMES_PER_SEGMENT,
                        help="frames per segment (%(default)s)")  # fmt: skip
    parser.add_argument("--every", type=int, default=gen.EVERY, help="MD steps between frames")
    parser.add_argument("--equilibration", type=int, default=gen.EQUILIBRATION)
    parser.add_argument("--root", default=None, help="cache folder (default: the user cache)")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)

    from regconv.data.crystals import ensure_copper
    from regconv.data.md17 import read_frames

    try:
        path = ensure_copper(
            args.seed, frames=args.frames, every=args.every, equilibration=args.equilibration,
            root=args.root, force=args.force,
        )  # fmt: skip
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    frames = read_frames(path)
    print(path)
    print(frames)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
