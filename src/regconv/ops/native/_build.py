"""Compile the C++ kernels of this folder once per machine and load them through ctypes.

One library from every ``*.cpp`` file here, built with the system's C++ compiler (``$CXX``,
else ``g++``, else ``c++``) and OpenMP, tuned for the CPU it runs on (``-march=native``), into
a cache folder (``$REGCONV_CACHE_DIR``, else ``$XDG_CACHE_HOME/regconv``, else
``~/.cache/regconv``) under a name that hashes the sources, the flags, the compiler and the
CPU's model and features, so that a cache shared between machines never hands one CPU
another's code. The file is written under a temporary name and renamed into place (concurrent
processes may both build; neither sees a half file). ``REGCONV_NATIVE=0`` turns the native
kernels off; if no compiler works, a warning says why once and the callers use their PyTorch
implementations. The library loads into the process's OpenMP runtime (the one torch loaded).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from functools import cache
from pathlib import Path

SOURCES = tuple(sorted(Path(__file__).parent.glob("*.cpp")))
FLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-fopenmp", "-std=c++17", "-shared",
         "-fPIC")  # fmt: skip


def cache_dir() -> Path:
    """Where built libraries are kept (see the module docstring)."""
    if os.environ.get("REGCONV_CACHE_DIR"):
        return Path(os.environ["REGCONV_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "regconv"


def _compiler() -> str | None:
    for name in (os.environ.get("CXX"), "g++", "c++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _cpu_signature() -> str:
    """The CPU's model name and feature flags (Linux), else the platform's processor string."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    keep = [ln for ln in lines if ln.startswith(("model name", "flags", "Features"))]
    return "\n".join(sorted(set(keep)))


def library_path(compiler: str) -> Path:
    """The cache file of the library for these sources, compiler and CPU."""
    st = os.stat(compiler)
    parts = [src.read_bytes() for src in SOURCES] + [
        " ".join(FLAGS).encode(),
        compiler.encode(),
        f"{st.st_size}:{st.st_mtime_ns}".encode(),
        platform.machine().encode(),
        _cpu_signature().encode(),
    ]
    key = hashlib.sha256()
    for part in parts:
        key.update(part)
        key.update(b"\0")
    return cache_dir() / "native" / f"regconv_native-{key.hexdigest()[:20]}.so"


def _build(compiler: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", prefix=".building-", dir=target.parent)
    os.close(fd)
    try:
        proc = subprocess.run(
            [compiler, *FLAGS, *map(str, SOURCES), "-o", tmp], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{compiler} failed: {proc.stderr.strip()[-2000:]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@cache
def load() -> ctypes.CDLL | None:
    """The native library (built on first use), or ``None`` where it is off or cannot be built."""
    if os.environ.get("REGCONV_NATIVE", "1") == "0":
        return None
    compiler = _compiler()
    if compiler is None:
        warnings.warn("regconv: no C++ compiler found; using the PyTorch kernels", stacklevel=2)
        return None
    try:
        target = library_path(compiler)
        if not target.exists():
            _build(compiler, target)
        try:
            return ctypes.CDLL(str(target))
        except OSError:  # a damaged cache file: build it again, once
            target.unlink(missing_ok=True)
            _build(compiler, target)
            return ctypes.CDLL(str(target))
    except (OSError, RuntimeError, subprocess.SubprocessError) as err:
        warnings.warn(f"regconv: native kernels unavailable ({err}); using PyTorch", stacklevel=2)
        return None


def pointer(t) -> ctypes.c_void_p:
    """A tensor's data pointer for a C argument (``None``: a null pointer, "not needed")."""
    return ctypes.c_void_p(t.data_ptr() if t is not None else 0)
