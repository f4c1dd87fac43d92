"""Argument checks shared by every constructor: each raises ``ValueError`` naming the argument.

Every check returns the validated value as a Python number, so a constructor reads
``self.cutoff = optional_positive("cutoff", cutoff)``. NumPy scalars (``np.int64``,
``np.float32``) count as numbers; bools never do.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence

__all__ = [
    "check_bool",
    "check_choice",
    "check_int",
    "check_nonnegative",
    "check_positive",
    "check_positive_list",
    "is_positive",
    "optional_int",
    "optional_nonnegative",
    "optional_positive",
]


def is_positive(value: object) -> bool:
    """True for a finite real number > 0 (bools are not numbers here)."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    return number and 0 < float(value) < math.inf


def check_positive(name: str, value: object) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a finite number > 0."""
    if not is_positive(value):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def optional_positive(name: str, value: object) -> float | None:
    """None, or ``value`` as a float if it is a finite number > 0 (else ``ValueError``)."""
    return None if value is None else check_positive(name, value)


def check_nonnegative(name: str, value: object) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a finite number >= 0."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (number and 0 <= float(value) < math.inf):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def optional_nonnegative(name: str, value: object) -> float | None:
    """None, or ``value`` as a float if it is a finite number >= 0 (else ``ValueError``)."""
    return None if value is None else check_nonnegative(name, value)


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an ``int`` if it is an integer >= ``minimum`` (not a bool), else an error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def optional_int(name: str, value: object, minimum: int = 1) -> int | None:
    """None, or ``value`` checked by :func:`check_int`."""
    return None if value is None else check_int(name, value, minimum)


def check_bool(name: str, value: object) -> bool:
    """``value`` if it is a bool, else ``ValueError``."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return value


def check_choice(name: str, value: object, choices: Iterable[object]) -> object:
    """``value`` if it is one of ``choices``, else ``ValueError`` listing them."""
    options = tuple(choices)
    if value not in options:
        listed = ", ".join(repr(c) for c in options)
        raise ValueError(f"{name} must be one of {listed}; got {value!r}")
    return value


def check_positive_list(name: str, value: object) -> tuple[float, ...]:
    """A non-empty list or tuple of finite numbers > 0, as a tuple of floats."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers > 0, got {value!r}")
    if not all(map(is_positive, value)):
        raise ValueError(f"{name} must be a non-empty list of numbers > 0, got {value!r}")
    return tuple(float(v) for v in value)
