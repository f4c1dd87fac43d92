"""regconv.utils.checks: the non-negative checks (beside the positive ones) accept finite numbers
>= 0 as floats, and refuse negatives, NaN, infinities, bools and non-numbers naming the
argument."""

from __future__ import annotations

import numpy as np
import pytest

from regconv.utils.checks import check_nonnegative, optional_nonnegative


@pytest.mark.parametrize("value", [0, 0.0, 2, 1e-9, np.float32(0.5), np.int64(3)])
def test_nonnegative_numbers_come_back_as_floats(value):
    out = check_nonnegative("gamma", value)
    assert type(out) is float and out == float(value)
    assert optional_nonnegative("gamma", value) == float(value)


@pytest.mark.parametrize("value", [-1e-12, -3, float("nan"), float("inf"), True, False, "1", None])
def test_anything_else_is_refused_naming_the_argument(value):
    with pytest.raises(ValueError, match=r"gamma must be a finite number >= 0, got"):
        check_nonnegative("gamma", value)


def test_optional_nonnegative_passes_none_and_checks_the_rest():
    assert optional_nonnegative("block.layer_scale", None) is None
    with pytest.raises(ValueError, match="block.layer_scale must be a finite number >= 0"):
        optional_nonnegative("block.layer_scale", -1.0)
