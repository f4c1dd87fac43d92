"""Low-level tensor operations shared by every layer (no geometry, no learning): scatters, the
fused message sums of the group convolutions and the fused MLPs."""

from regconv.ops.fibre import fibre_mix
from regconv.ops.message import DEFAULT_CHUNK_ROWS, edge_chunks, kernel_message_sum
from regconv.ops.mlp import gelu_mlp2, layer_norm_mlp
from regconv.ops.scatter import scatter_max, scatter_mean, scatter_softmax, scatter_sum
from regconv.ops.table_message import TablePlan, table_message_sum

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "TablePlan",
    "edge_chunks",
    "fibre_mix",
    "gelu_mlp2",
    "kernel_message_sum",
    "layer_norm_mlp",
    "scatter_max",
    "scatter_mean",
    "scatter_softmax",
    "scatter_sum",
    "table_message_sum",
]
