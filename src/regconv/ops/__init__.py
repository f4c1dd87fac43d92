"""Low-level tensor operations shared by every layer (no geometry, no learning)."""

from regconv.ops.scatter import scatter_max, scatter_mean, scatter_softmax, scatter_sum

__all__ = ["scatter_sum", "scatter_mean", "scatter_max", "scatter_softmax"]
