"""NVE drift over velocity seeds: the ``regconv md-check nve`` runs of two or more models, one
group of run folders per model, summed up with a permutation test between the groups.

::

    python -m benchmarks nve-seeds --temperature 500 \\
        --group r3 runs/md-nve-r3-071 runs/md-nve-r3-071-500K-seed? \\
        --group r3s2 runs/md-nve-r3s2-071 runs/md-nve-r3s2-071-500K-seed?

Each folder holds one ``md-check nve`` run (its ``results.jsonl``); the line of the start
temperature ``--temperature`` is read. Per group: the drifts (meV/atom/ps), their mean, standard
deviation, standard error, mean of ``|drift|``, root mean square, the largest excursion and MD
steps per second; from each run's trace (``nve-<T>K.csv``, when the folder has it) the
fluctuation of the total energy about its least-squares line (s.d., meV/atom) and the standard
error of the drift by batch means (the line fitted through the means of ten equal blocks of the
run; blocks long against the energy's correlation time make them independent): the drift a run
shows from the fluctuation alone, with no energy gained or lost. The atom count comes from the
trace itself (kinetic energy = 3/2 N k_B T). Between each pair of groups: the difference of the
mean drift and of the mean ``|drift|``, each with a two-sided permutation p-value (the groups'
runs pooled and split again in every way, exactly up to 10^6 splits, else 10^5 random splits of
a fixed seed): how often a split at random differs as much as the groups do. No fit is redone:
the drifts are ``md-check``'s own (a least-squares line through the total energy per atom).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np

from regconv.utils.io import atomic_write_text

__all__ = ["main", "permutation_p", "read_run", "summarise"]

#: most splits counted exactly; beyond, this many random ones
EXACT_SPLITS = 10**6
RANDOM_SPLITS = 10**5
#: Boltzmann's constant, eV/K; blocks of the batch-means standard error
KB_EV = 8.617333262e-5
BLOCKS = 10


def trace_stats(path: Path) -> dict:
    """Fluctuation and batch-means standard error of the drift of one trace (module docstring);
    ``ValueError`` naming the file for a trace that is not ``md-check``'s."""
    try:
        a = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: not an md-check trace ({err})") from None
    if a.shape[1] != 4 or a.shape[0] < 2 * BLOCKS or not np.isfinite(a).all():
        raise ValueError(f"{path}: need >= {2 * BLOCKS} finite rows t,T,Epot,Etot; got {a.shape}")
    t, temp, e_pot, e_tot = a.T
    hot = temp > 1.0
    atoms = 2.0 * (e_tot - e_pot)[hot] / (3.0 * KB_EV * temp[hot])  # E_kin = 3/2 N k_B T
    n = int(round(float(np.median(atoms)))) if atoms.size else 0
    if n < 1 or np.abs(atoms - n).max() > 1e-3 * n:
        raise ValueError(f"{path}: kinetic energy and temperature give no one atom count")
    e = 1000.0 * e_tot / n  # meV/atom
    fit = np.polyfit(t, e, 1)
    blocks = np.array_split(np.arange(t.size), BLOCKS)
    tb = np.array([t[b].mean() for b in blocks])
    eb = np.array([e[b].mean() for b in blocks])
    slope, icept = np.polyfit(tb, eb, 1)
    resid = eb - (slope * tb + icept)
    se = math.sqrt(float((resid**2).sum()) / (BLOCKS - 2) / float(((tb - tb.mean()) ** 2).sum()))
    return {
        "atoms": n,
        "fluctuation_meV_per_atom": float((e - np.polyval(fit, t)).std()),
        "drift_se_meV_per_atom_ps": se,
    }


def read_run(folder: Path, temperature: float) -> dict:
    """The ``md-check nve`` result of ``folder`` at the start temperature ``temperature`` (K)."""
    path = Path(folder) / "results.jsonl"
    if not path.is_file():
        raise ValueError(f"{path}: no such file (not an `md-check nve --out` folder?)")
    found = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not JSON ({err.msg})") from None
        if record.get("check") == "nve" and record.get("start_temperature_K") == temperature:
            if "drift_meV_per_atom_ps" not in record:
                raise ValueError(f"{path}, line {number}: no key 'drift_meV_per_atom_ps'")
            found.append(record)
    if len(found) != 1:
        raise ValueError(f"{path}: {len(found)} nve runs from {temperature:g} K, need one")
    trace = Path(folder) / f"nve-{temperature:g}K.csv"
    return {**found[0], **(trace_stats(trace) if trace.is_file() else {})}


def summarise(name: str, folders: list[Path], records: list[dict]) -> dict:
    """One group's drifts and their statistics."""
    drift = np.array([r["drift_meV_per_atom_ps"] for r in records], dtype=float)
    n = drift.size
    sd = float(drift.std(ddof=1)) if n > 1 else None  # one run: no spread (null in the JSON)
    traced = [r for r in records if "drift_se_meV_per_atom_ps" in r]
    trace = {}
    if len(traced) == n:  # every run's trace: the fluctuation and the drift it alone gives
        trace = {
            "fluctuation_meV_per_atom": float(
                np.mean([r["fluctuation_meV_per_atom"] for r in traced])
            ),
            "drift_se_meV_per_atom_ps": float(
                np.sqrt(np.mean([r["drift_se_meV_per_atom_ps"] ** 2 for r in traced]))
            ),
        }
    return {
        "group": name,
        "runs": [str(f) for f in folders],
        "dtype": sorted({str(r.get("dtype")) for r in records}),
        "n": n,
        "drift_meV_per_atom_ps": drift.tolist(),
        "mean": float(drift.mean()),
        "sd": sd,
        "se": sd / math.sqrt(n) if sd is not None else None,
        "mean_abs": float(np.abs(drift).mean()),
        "rms": float(np.sqrt((drift**2).mean())),
        "max_excursion_meV_per_atom": max(r["max_excursion_meV_per_atom"] for r in records),
        "steps_per_s": float(np.mean([r["steps_per_s"] for r in records])),
        **trace,
    }


def permutation_p(a: np.ndarray, b: np.ndarray, seed: int = 0) -> float:
    """Two-sided permutation p-value of the difference of the means of ``a`` and ``b``: the share
    of splits of the pooled values into groups of their sizes whose difference is at least as
    large in magnitude (exact over all splits up to :data:`EXACT_SPLITS`)."""
    pooled = np.concatenate([a, b])
    n, k = pooled.size, a.size
    observed = abs(a.mean() - b.mean())
    total = pooled.sum()
    if math.comb(n, k) <= EXACT_SPLITS:
        picks = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)
    else:
        gen = np.random.default_rng(seed)
        picks = np.argsort(gen.random((RANDOM_SPLITS, n)), axis=1)[:, :k]
    sums = pooled[picks].sum(axis=1)
    diffs = np.abs(sums / k - (total - sums) / (n - k))
    hits = int(np.count_nonzero(diffs >= observed - 1e-15 * max(1.0, abs(observed))))
    return hits / picks.shape[0]


def compare(x: dict, y: dict) -> dict:
    """Differences of the mean drift and of the mean ``|drift|`` of two groups, with p-values."""
    a, b = np.array(x["drift_meV_per_atom_ps"]), np.array(y["drift_meV_per_atom_ps"])
    return {
        "groups": [x["group"], y["group"]],
        "mean_difference": x["mean"] - y["mean"],
        "mean_p": permutation_p(a, b),
        "mean_abs_ratio": x["mean_abs"] / y["mean_abs"],
        "mean_abs_difference": x["mean_abs"] - y["mean_abs"],
        "mean_abs_p": permutation_p(np.abs(a), np.abs(b)),
    }


def _table(groups: list[dict], pairs: list[dict], stream) -> None:
    print("| model | runs | mean drift ± s.e. | s.d. | mean of \\|drift\\| | rms | largest "
          "excursion (meV/atom) | fluctuation (meV/atom) | drift from the fluctuation (rms of "
          "the runs' s.e.) | MD steps/s |", file=stream)  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", file=stream)
    for g in groups:
        fluct = g.get("fluctuation_meV_per_atom")
        trace = "— | —" if fluct is None else f"{fluct:.3f} | {g['drift_se_meV_per_atom_ps']:.4f}"
        se, sd = ("—", "—") if g["sd"] is None else (f"{g['se']:.4f}", f"{g['sd']:.4f}")
        row = (
            f"| {g['group']} ({', '.join(g['dtype'])}) | {g['n']} | {g['mean']:+.4f} ± "
            f"{se} | {sd} | {g['mean_abs']:.4f} | {g['rms']:.4f} | "
            f"{g['max_excursion_meV_per_atom']:.2f} | {trace} | {g['steps_per_s']:.1f} |"
        )
        print(row, file=stream)
    for p in pairs:
        x, y = p["groups"]
        print(f"{x} - {y}: mean drift {p['mean_difference']:+.4f} (p = {p['mean_p']:.2f}), "
              f"mean |drift| {p['mean_abs_difference']:+.4f}, {p['mean_abs_ratio']:.2f}x "
              f"(p = {p['mean_abs_p']:.2f})", file=stream)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks nve-seeds", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--group", nargs="+", action="append", required=True, metavar="NAME DIR",
                   help="a name, then the md-check nve folders of its runs")  # fmt: skip
    p.add_argument("--temperature", type=float, default=500.0, help="start temperature (K)")
    p.add_argument("--out", type=Path, help="write the summary here as JSON")
    args = p.parse_args(argv)
    if any(len(g) < 2 for g in args.group):
        p.error("each --group needs a name and at least one folder")
    try:
        groups = []
        for name, *folders in args.group:
            paths = [Path(f) for f in folders]
            records = [read_run(f, args.temperature) for f in paths]
            groups.append(summarise(name, paths, records))
    except ValueError as err:
        print(f"nve-seeds: {err}", file=sys.stderr)
        return 2
    pairs = [compare(x, y) for x, y in itertools.combinations(groups, 2)]
    _table(groups, pairs, sys.stdout)
    if args.out is not None:
        summary = {"temperature_K": args.temperature, "groups": groups, "comparisons": pairs}
        atomic_write_text(args.out, json.dumps(summary, indent=1, allow_nan=False) + "\n")
    return 0
