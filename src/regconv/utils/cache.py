"""Checksummed file caches with a JSON sidecar: verify, explain why a cache cannot be used, and
say so. Used by the generated data sets (N-body splits, MD17-class sets)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["cache_problem", "say", "sha256_file"]


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (read in 4 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def cache_problem(
    data: Path, sidecar: Path, protocol: dict[str, Any], checksum_key: str
) -> str | None:
    """Why the cached ``data`` cannot be used, or ``None`` if it verifies: the sidecar holds the
    ``protocol`` the data were made with and the file's SHA-256 under ``checksum_key``.

    Reasons: ``"not cached"``, ``"unreadable sidecar ..."``, ``"stale: the protocol changed
    (keys)"``, ``"corrupt: the file's checksum does not match its sidecar"``.
    """
    if not data.exists() or not sidecar.exists():
        return "not cached"
    try:
        recorded = json.loads(sidecar.read_text())
    except (OSError, ValueError) as e:
        return f"unreadable sidecar {sidecar.name} ({e})"
    if not isinstance(recorded, dict) or recorded.get("protocol") != protocol:
        old = recorded.get("protocol") if isinstance(recorded, dict) else None
        keys = sorted(set(protocol) | set(old or {})) if isinstance(old, dict) else []
        changed = [k for k in keys if old.get(k) != protocol.get(k)] if keys else []
        return f"stale: the protocol changed ({', '.join(changed) or 'format'})"
    if recorded.get(checksum_key) != sha256_file(data):
        return "corrupt: the file's checksum does not match its sidecar"
    return None


def say(prefix: str, msg: str, verbose: bool) -> None:
    """``[prefix] msg`` on standard error when ``verbose``."""
    if verbose:
        print(f"[{prefix}] {msg}", file=sys.stderr, flush=True)
