"""Benchmarks a user runs on their own models and data: ``regconv bench NAME`` (the list:
:mod:`regconv.bench.commands`).

Every measurement is printed as ONE JSON line that carries the machine (CPU model, cores,
torch version and threads, date) and the load on it while it ran: the busy fraction of all CPUs
from ``/proc/stat`` (or psutil) sampled around the measurement, the share of it taken by other
processes, and the load average before and after. Timings taken while other processes are busy
are unreliable in absolute terms; compare variants measured in the same run (the throughput
bench interleaves the models repeat by repeat).

- :mod:`regconv.bench.throughput`: training / inference molecules per second on QM9 batches,
  peak memory, parameters, FLOPs per step and the fraction of the measured matmul peak; beside
  checkouts of the author's PONITA implementations, the paper code and the pure-torch rewrite
  (:mod:`regconv.bench.ponita_checkouts`).
- :mod:`regconv.bench.device_throughput`: the same on one device, per precision.
- :mod:`regconv.bench.flops`: FLOP counting and the fp32 matmul peak.
- :mod:`regconv.bench.grid_error`: invariance error of the grid fibres against grid size.
- :mod:`regconv.bench.specs`: the ``NAME[:key=value,...]`` model specs of every benchmark.
- :mod:`regconv.bench.options`: a benchmark's default options with a spec's overrides, and a
  shared config (:data:`PONITA_CONFIG`) reduced to what each model takes.

This module's helpers (:func:`machine_info`, :func:`cpu_sampler`, :func:`emit`, the RSS
readings) are public: the repository's research harnesses (``python -m benchmarks``) use them.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import platform
import resource
import sys
import time
from contextlib import contextmanager

import torch

__all__ = [
    "machine_info",
    "cpu_sampler",
    "emit",
    "ponita_config",
    "PONITA_CONFIG",
    "reset_peak_rss",
    "peak_rss_mb",
    "current_rss_mb",
]

#: The PONITA-class reference configuration of ``r3s2`` (QM9, fully connected graphs); each
#: model takes the part of it that applies (:func:`regconv.bench.options.applicable`).
PONITA_CONFIG = {
    "hidden": 128,
    "layers": 5,
    "space": {"num_orientations": 16},
    "basis": {"dim": 256, "degree": 3},
    "cutoff": None,
}


def ponita_config() -> dict:
    """A copy of :data:`PONITA_CONFIG` (its component mappings copied too)."""
    return copy.deepcopy(PONITA_CONFIG)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """Static facts about this machine and run (JSON-able), with the regconv release (whose
    defaults a model spec's unnamed options take)."""
    from regconv import __version__

    try:
        import torch_geometric

        pyg = torch_geometric.__version__
    except ImportError:  # pragma: no cover
        pyg = None
    return {
        "host": platform.node(),
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "regconv": __version__,
        "torch": torch.__version__,
        "torch_geometric": pyg,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _proc_stat() -> tuple[float, float] | None:
    """(busy, total) jiffies of all CPUs, or None where /proc/stat is unavailable."""
    try:
        with open("/proc/stat") as fh:
            fields = [float(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        try:
            import psutil

            t = psutil.cpu_times()
            total = sum(t)
            return total - t.idle - getattr(t, "iowait", 0.0), total
        except Exception:  # pragma: no cover
            return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields[:8])
    return total - idle, total


def _own_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


@contextmanager
def cpu_sampler():
    """Measure the CPU load around a block: yields a dict filled in on exit with
    ``cpu_busy_fraction`` (all processes, all CPUs), ``own_cpu_fraction`` (this process and its
    children), ``others_cpu_fraction`` (the difference), ``loadavg_before`` / ``loadavg_after``
    and ``wall_s``."""
    rec: dict = {}
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    s0, own0, t0 = _proc_stat(), _own_cpu_seconds(), time.perf_counter()
    try:
        yield rec
    finally:
        s1, own1, t1 = _proc_stat(), _own_cpu_seconds(), time.perf_counter()
        wall = t1 - t0
        ncpu = os.cpu_count() or 1
        rec["wall_s"] = round(wall, 4)
        if s0 is not None and s1 is not None and s1[1] > s0[1]:
            busy = (s1[0] - s0[0]) / (s1[1] - s0[1])
            own = (own1 - own0) / max(wall * ncpu, 1e-9)
            rec["cpu_busy_fraction"] = round(busy, 3)
            rec["own_cpu_fraction"] = round(min(own, 1.0), 3)
            rec["others_cpu_fraction"] = round(max(busy - own, 0.0), 3)
        rec["loadavg_before"] = load0[0] if load0 else None
        rec["loadavg_after"] = os.getloadavg()[0] if load0 else None


def current_rss_mb() -> float | None:
    """Resident set size of this process now, in MiB (Linux ``/proc/self/status``)."""
    return _status_field("VmRSS")


def _status_field(name: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(name + ":"):
                    return float(line.split()[1]) / 1024.0  # kB -> MiB
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark to its current RSS (Linux: ``5`` written to
    ``/proc/self/clear_refs``), so that a later :func:`peak_rss_mb` measures only what follows
    (data loading, for instance, has a transient peak of its own). False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float:
    """RSS high-water mark in MiB: ``VmHWM`` (honours :func:`reset_peak_rss`), else ``ru_maxrss``."""
    hwm = _status_field("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(record: dict, stream=None) -> dict:
    """Print ``record`` (with the machine info merged in) as one JSON line and return it."""
    full = {**record, "machine": machine_info()}
    print(json.dumps(full, default=str), file=stream or sys.stdout, flush=True)
    return full
