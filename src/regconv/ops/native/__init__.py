"""Native CPU kernels, compiled on first use (see :mod:`regconv.ops.native._build`).

Each one has a PyTorch implementation beside it in :mod:`regconv.ops` that stays the reference
(tests compare the two) and the path taken on GPUs, under autocast, or without a compiler.
"""

from regconv.ops.native._build import cache_dir, load
from regconv.ops.native._fibre import fibre_forward, fibre_kernel_grad, fibre_usable
from regconv.ops.native._table import (
    cell_order,
    edge_csr,
    table_backward,
    table_forward,
    usable,
)

__all__ = [
    "cache_dir",
    "cell_order",
    "edge_csr",
    "fibre_forward",
    "fibre_kernel_grad",
    "fibre_usable",
    "load",
    "table_backward",
    "table_forward",
    "usable",
]
