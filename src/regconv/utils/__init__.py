"""Small utilities with no model code: atomic file writes and cache locations."""

from regconv.utils.io import atomic_write, atomic_write_bytes, atomic_write_text, cache_dir

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "cache_dir"]
