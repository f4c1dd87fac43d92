r"""The graph a model runs on: a radius graph within a cutoff, or the full graph, of molecules
or of periodic systems, with the relative position of every edge.

.. math::
    x_{ij} = x_j - x_i \;(+\, S_{ij}\,\mathrm{cell}_b \text{ for a periodic graph } b)

is what every model reads of the geometry: its invariants are functions of these vectors, so a
periodic graph needs nothing else of a model (the shift ``S`` of each edge is fixed while the
graph is in use; positions and cell enter ``x_ij`` differentiably, for forces and stress).
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor

from regconv.graph.full import full_graph
from regconv.graph.periodic import edge_vectors, periodic_radius_graph
from regconv.graph.radius import radius_graph

__all__ = ["Edges", "build_edges", "build_graph"]


def build_graph(pos: Tensor, batch: Tensor, cutoff: float | None, loop: bool = False) -> Tensor:
    """Radius graph within ``cutoff`` (inclusive) or, when ``cutoff`` is None, the full graph;
    with the self-loops ``(i, i)`` when ``loop``.

    Shapes:
        pos ``[N, 3]``, batch ``[N]`` (sorted) -> edge_index ``[2, E]`` (src ``j``, dst ``i``).
    """
    if cutoff is None:
        return full_graph(batch, loop=loop)
    return radius_graph(pos, cutoff, batch, loop=loop)


class Edges(NamedTuple):
    """The edges of a batch and their relative positions.

    Shapes:
        edge_index ``[2, E]`` (src ``j``, dst ``i``); x_ij ``[E, 3]``; shift ``[E, 3]`` long
        (None for molecules).
    """

    edge_index: Tensor
    x_ij: Tensor
    shift: Tensor | None


def build_edges(
    pos: Tensor,
    batch: Tensor,
    cutoff: float | None,
    loop: bool = False,
    *,
    cell: Tensor | None = None,
    pbc: Tensor | None = None,
) -> Edges:
    r"""The graph of :func:`build_graph` and ``x_ij = x_j - x_i`` per edge; with a ``cell``
    ``[B, 3, 3]`` and ``pbc`` ``[B, 3]``, the periodic radius graph
    (:func:`regconv.graph.periodic_radius_graph`) and ``x_ij = x_j - x_i + S cell``.

    The neighbour search runs on detached values; ``x_ij`` is differentiable in ``pos`` and
    ``cell``. A periodic graph needs a cutoff (``ValueError`` for ``cutoff=None``).

    Shapes:
        pos ``[N, 3]``, batch ``[N]`` (sorted), cell ``[B, 3, 3]``, pbc ``[B, 3]`` -> :class:`Edges`.
    """
    if cell is None:
        edge_index = build_graph(pos, batch, cutoff, loop)
        x_ij = pos.index_select(0, edge_index[0]) - pos.index_select(0, edge_index[1])  # [E, 3]
        return Edges(edge_index, x_ij, None)
    if cutoff is None:
        raise ValueError(
            "a periodic system has infinitely many pairs: the model needs a cutoff "
            "(it was built with cutoff=None, the full graph)"
        )
    if pbc is None:
        raise ValueError("a cell without pbc: say which axes are periodic")
    edge_index, shift = periodic_radius_graph(
        pos.detach(), cutoff, cell.detach(), pbc, batch, loop=loop
    )
    return Edges(edge_index, edge_vectors(pos, edge_index, shift, cell, batch), shift)
