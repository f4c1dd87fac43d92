"""Shared test configuration.

The machine has two cores; torch work in tests runs on one thread so that the suite never
oversubscribes them (an oversubscribed OpenMP pool slows torch by an order of magnitude).
"""

import os

import pytest
import torch

torch.set_num_threads(int(os.environ.get("REGCONV_TEST_THREADS", "1")))


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param
