"""``python -m regconv.data``: summary of the QM9 data set (and build its cache)."""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m regconv.data", description="Summarise QM9 (building its cache if needed)."
    )
    parser.add_argument(
        "--source-dir",
        default=None,
        help="folder of qm9_part*.csv (default: the installed qm9pack's data)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="cache folder (default: $REGCONV_CACHE or ~/.cache/regconv)",
    )
    parser.add_argument("--rebuild", action="store_true", help="parse the CSVs even if cached")
    args = parser.parse_args(argv)

    import numpy as np

    from regconv.data.qm9 import (
        QM9_SCHEMES,
        QM9_TARGET_SYMBOLS,
        QM9_TARGETS,
        load_qm9_tensors,
        qm9_split_indices,
    )

    t0 = time.perf_counter()
    data = load_qm9_tensors(args.source_dir, args.cache_dir, rebuild=args.rebuild)
    first_call = time.perf_counter() - t0
    if data.built:  # time a load from the file just written, bypassing the in-process memo
        t1 = time.perf_counter()
        load_qm9_tensors(args.source_dir, args.cache_dir, memo=False)
        cached = time.perf_counter() - t1
    else:
        cached = first_call

    ids = data.idx.numpy()
    n_atoms = np.diff(data.ptr.numpy())
    z_counts = np.bincount(data.z.numpy(), minlength=10)
    gaps = int(ids[-1] - ids[0] + 1 - ids.shape[0])
    out = sys.stdout
    print(f"QM9 from {data.source_dir}", file=out)
    print(f"cache: {data.cache_path}", file=out)
    print(
        f"molecules: {data.num_molecules:,}   QM9 ids {ids[0]}..{ids[-1]} ({gaps:,} gaps)   "
        f"atoms: {data.num_atoms:,} ({n_atoms.min()}..{n_atoms.max()} per molecule, "
        f"mean {n_atoms.mean():.2f})",
        file=out,
    )
    print(
        "elements: "
        + ", ".join(
            f"{s} {z_counts[z]:,}" for s, z in (("H", 1), ("C", 6), ("N", 7), ("O", 8), ("F", 9))
        ),
        file=out,
    )
    y = data.y.double().numpy()
    print(f"\n{'target':<7} {'symbol':<7} {'unit':<10} {'mean':>14} {'std':>12}", file=out)
    for c, (name, unit) in enumerate(QM9_TARGETS):
        print(
            f"{name:<7} {QM9_TARGET_SYMBOLS[name]:<7} {unit:<10} {y[:, c].mean():>14.4f} "
            f"{y[:, c].std(ddof=1):>12.4f}",
            file=out,
        )
    print("\nsplits (train / val / test):", file=out)
    for scheme in QM9_SCHEMES:
        parts = qm9_split_indices(scheme)
        sizes = " / ".join(f"{len(parts[p]):,}" for p in ("train", "val", "test"))
        print(f"  {scheme:<10} {sizes}", file=out)
    if data.built:
        print(
            f"\nparse: {data.parse_seconds:.2f} s (cache built now)   cached load: {cached:.3f} s",
            file=out,
        )
    else:
        parsed = f"{data.parse_seconds:.2f} s when built" if data.parse_seconds else "unknown"
        print(f"\ncached load: {cached:.3f} s   (CSV parse: {parsed})", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
