"""Graph construction in plain torch, with no neighbour cap.

Convention: ``edge_index[0] = src j``, ``edge_index[1] = dst i``, messages flow ``j -> i``, and
edges are sorted by ``(dst i, src j)``. ``batch`` vectors must be sorted (non-decreasing).

- :func:`radius_graph`: pairs within a cutoff (inclusive) inside each graph.
- :func:`full_graph`: all ordered pairs inside each graph.
- :func:`periodic_radius_graph`: pairs within a cutoff across periodic cells (edges carry their
  integer lattice shift), and :func:`edge_vectors`, ``x_j - x_i + S cell``.
- :func:`edge_pairs`: pairs of edges ``(k -> j, j -> i)`` with ``k != i`` (triplets).
- :func:`spatial_order`: a Morton (Z-order) renumbering of the nodes within each graph, and
  :class:`NodeOrder`, which applies it to a model's message passing and undoes it.
- :func:`build_graph`: the radius graph within a cutoff, or the full graph (cutoff None);
  :func:`build_edges`: that graph or the periodic one, with each edge's ``x_j - x_i (+ S cell)``.
- :func:`transform_batch`: a batch moved by a rotation, translation or permutation.
- :class:`MoleculeBatch`: molecules as one batch in plain torch (prediction, MD).
"""

from regconv.graph.build import Edges, build_edges, build_graph
from regconv.graph.edges import edge_pairs
from regconv.graph.full import full_graph
from regconv.graph.molecules import MoleculeBatch
from regconv.graph.order import NodeOrder, spatial_order
from regconv.graph.periodic import edge_vectors, periodic_radius_graph
from regconv.graph.radius import radius_graph
from regconv.graph.transform import rotate_node_vectors, transform_batch

__all__ = [
    "Edges",
    "MoleculeBatch",
    "NodeOrder",
    "build_edges",
    "build_graph",
    "edge_pairs",
    "edge_vectors",
    "full_graph",
    "periodic_radius_graph",
    "radius_graph",
    "rotate_node_vectors",
    "spatial_order",
    "transform_batch",
]
