"""The checksummed, atomically written cache of the parsed QM9 tensors, and their loader.

The cache file ``qm9-<source location>-<source fingerprint>.pt`` lives in
``regconv.utils.io.cache_dir()`` (see :func:`load_qm9_tensors`); a cached load takes well under
two seconds, the parse of the CSVs a few seconds.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from regconv.data.qm9.constants import QM9_MAX_ID, QM9_NUM_MOLECULES, QM9_TARGETS
from regconv.data.qm9.source import INSTALL_HINT, parse_qm9_csv, qm9pack_data_dir, source_files
from regconv.utils import io as rio

__all__ = ["CACHE_FORMAT", "QM9Tensors", "load_qm9_tensors", "source_fingerprint"]

# Bump when the parsed content changes (columns, units, references): old caches become stale.
CACHE_FORMAT = 1
_FINGERPRINT_BLOCK = 1 << 20  # bytes hashed at the start and at the end of each source file
_TENSOR_KEYS = ("z", "pos", "ptr", "idx", "y")


def _warn(msg: str) -> None:
    print(f"regconv.data.qm9: {msg}", file=sys.stderr, flush=True)


def source_fingerprint(source_dir: str | os.PathLike | None = None) -> str:
    """A SHA-256 (hex) of the source CSVs' names, sizes, mtimes and first and last MiB, plus the
    cache format version. Cheap (reads at most 2 MiB per file); changes when a file changes."""
    src = Path(source_dir) if source_dir is not None else qm9pack_data_dir()
    h = hashlib.sha256(f"regconv-qm9-cache-v{CACHE_FORMAT}".encode())
    for f in source_files(src):
        st = f.stat()
        h.update(f"|{f.name}|{st.st_size}|{st.st_mtime_ns}|".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(_FINGERPRINT_BLOCK))
            if st.st_size > _FINGERPRINT_BLOCK:
                fh.seek(max(_FINGERPRINT_BLOCK, st.st_size - _FINGERPRINT_BLOCK))
                h.update(fh.read())
    return h.hexdigest()


@dataclass(frozen=True)
class QM9Tensors:
    """All of QM9 as concatenated tensors, molecules sorted by QM9 id.

    Atoms of molecule ``m`` are ``z[ptr[m]:ptr[m+1]]``, ``pos[ptr[m]:ptr[m+1]]``.
    """

    z: torch.Tensor  # [A] uint8 atomic numbers
    pos: torch.Tensor  # [A, 3] float32, Å
    ptr: torch.Tensor  # [M + 1] int64
    idx: torch.Tensor  # [M] int64, QM9 id
    y: torch.Tensor  # [M, 12] float32, QM9_TARGETS order and units
    source_dir: str
    cache_path: str | None
    built: bool  # True when this call parsed the CSVs (no valid cache was found)
    parse_seconds: float | None  # time the CSV parse took (when the cache was built)
    load_seconds: float  # wall time of the load_qm9_tensors call that produced this

    @property
    def num_molecules(self) -> int:
        return int(self.idx.shape[0])

    @property
    def num_atoms(self) -> int:
        return int(self.z.shape[0])


def _payload_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for key in _TENSOR_KEYS:
        t = tensors[key].contiguous()
        h.update(f"|{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def _check_structure(t: dict[str, torch.Tensor]) -> None:
    """Cheap shape/dtype consistency checks of a payload; raises ValueError."""
    z, pos, ptr, idx, y = (t[k] for k in _TENSOR_KEYS)
    m = idx.shape[0]
    ok = (
        z.dtype == torch.uint8
        and z.dim() == 1
        and pos.dtype == torch.float32
        and tuple(pos.shape) == (z.shape[0], 3)
        and ptr.dtype == torch.int64
        and tuple(ptr.shape) == (m + 1,)
        and idx.dtype == torch.int64
        and y.dtype == torch.float32
        and tuple(y.shape) == (m, len(QM9_TARGETS))
        and m > 0
        and int(ptr[0]) == 0
        and int(ptr[-1]) == z.shape[0]
    )
    if not ok:
        raise ValueError("inconsistent tensor shapes or dtypes")


def _cache_name(source_dir: Path, fingerprint: str) -> str:
    # qm9-<source location>-<source content>.pt: caches of the same location with another
    # content are stale and are removed when a new one is written.
    loc = hashlib.sha256(str(source_dir.resolve()).encode()).hexdigest()[:8]
    return f"qm9-{loc}-{fingerprint[:20]}.pt"


def _read_cache(path: Path, fingerprint: str) -> tuple[dict[str, torch.Tensor], float] | None:
    """The cached tensors and the recorded parse time, or None (with a message) if unusable."""
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        _warn(f"cannot read the QM9 cache {path} ({e}); rebuilding it")
        return None
    try:
        obj = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        if not isinstance(obj, dict) or obj.get("format") != CACHE_FORMAT:
            raise ValueError("not a regconv QM9 cache of this format version")
        if obj.get("source_fingerprint") != fingerprint:
            raise ValueError("it was built from different source files (stale)")
        tensors = {k: obj[k] for k in _TENSOR_KEYS}
        if not all(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise ValueError("missing tensors")
        _check_structure(tensors)
        if _payload_digest(tensors) != obj.get("payload_sha256"):
            raise ValueError("payload checksum mismatch")
    except Exception as e:  # unpickling errors come in many types
        msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else ""
        _warn(
            f"the QM9 cache {path} is corrupt or stale ({type(e).__name__}: {msg}); rebuilding it"
        )
        return None
    return tensors, float(obj.get("parse_seconds", float("nan")))


def _write_cache(
    path: Path, tensors: dict[str, torch.Tensor], fingerprint: str, src: Path, parse_seconds: float
) -> None:
    obj: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "source_fingerprint": fingerprint,
        "source_dir": str(src),
        "payload_sha256": _payload_digest(tensors),
        "parse_seconds": parse_seconds,
        **tensors,
    }
    buf = io.BytesIO()
    torch.save(obj, buf)
    rio.atomic_write_bytes(path, buf.getvalue())
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(prefix + "*.pt"):
        if old.name != path.name:
            try:
                old.unlink()
            except OSError:
                pass


_MEMO: dict[tuple[str, str], QM9Tensors] = {}


def load_qm9_tensors(
    source_dir: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    *,
    rebuild: bool = False,
    memo: bool = True,
    expect_full: bool | None = None,
) -> QM9Tensors:
    """Load QM9 as concatenated tensors, from the cache if it is valid, else by parsing the CSVs.

    Args:
        source_dir: folder with ``qm9_part*.csv``; default: the installed ``qm9pack``'s data.
        cache_dir: folder of the cache file ``qm9-<location>-<checksum>.pt``; default
            :func:`regconv.utils.io.cache_dir`.
        rebuild: parse the CSVs even if a valid cache exists.
        memo: reuse the tensors already loaded in this process for the same source and cache.
        expect_full: check that the source is the full QM9 (130,831 molecules, ids in
            1..133,885, so 3,054 gaps); default: only for the default source.

    The checksum covers the source files' names, sizes, mtimes and first/last MiB, so changed
    sources give a new cache (the stale one is removed). A cache that cannot be unpickled, has the
    wrong structure or whose payload SHA-256 does not match is rebuilt with a message on stderr.

    Raises:
        ImportError: ``source_dir`` is None and ``qm9pack`` is not installed.
        ValueError: bad source data (see :func:`regconv.data.qm9.source.parse_qm9_csv`).
    """
    t0 = time.perf_counter()
    src = Path(source_dir) if source_dir is not None else qm9pack_data_dir()
    if expect_full is None:
        expect_full = source_dir is None
    fingerprint = source_fingerprint(src)
    root = Path(cache_dir) if cache_dir is not None else rio.cache_dir()
    path = root / _cache_name(src, fingerprint)
    key = (str(src.resolve()), str(path.resolve()))
    if memo and not rebuild and key in _MEMO:
        return _MEMO[key]

    cached = None if rebuild else _read_cache(path, fingerprint)
    if cached is not None:
        tensors, parse_seconds = cached
        built = False
    else:
        stale = sorted(p.name for p in root.glob(path.name.rsplit("-", 1)[0] + "-*.pt"))
        stale = [p for p in stale if p != path.name]
        if stale:
            _warn(f"the QM9 source files in {src} changed since {stale[0]} was built; rebuilding")
        _warn(f"parsing the QM9 CSVs in {src} into {path} (once; takes a few seconds)")
        t_parse = time.perf_counter()
        arrays = parse_qm9_csv(src)
        parse_seconds = time.perf_counter() - t_parse
        tensors = {k: torch.from_numpy(arrays[k]) for k in _TENSOR_KEYS}
        _check_structure(tensors)
        _write_cache(path, tensors, fingerprint, src, parse_seconds)
        built = True

    if expect_full:
        _check_full(tensors["idx"])
    data = QM9Tensors(
        **tensors,
        source_dir=str(src),
        cache_path=str(path),
        built=built,
        parse_seconds=parse_seconds if built or math.isfinite(parse_seconds) else None,
        load_seconds=time.perf_counter() - t0,
    )
    if memo:
        _MEMO[key] = data
    return data


def _check_full(idx: torch.Tensor) -> None:
    m = idx.shape[0]
    lo, hi = int(idx[0]), int(idx[-1])
    if m != QM9_NUM_MOLECULES or lo < 1 or hi > QM9_MAX_ID:
        raise ValueError(
            f"expected {QM9_NUM_MOLECULES} QM9 molecules with ids in 1..{QM9_MAX_ID}, got {m} "
            f"with ids {lo}..{hi}; reinstall the data: {INSTALL_HINT} --force-reinstall"
        )
