"""The graph a model runs on: a radius graph within a cutoff, or the full graph."""

from __future__ import annotations

from torch import Tensor

from regconv.graph.full import full_graph
from regconv.graph.radius import radius_graph

__all__ = ["build_graph"]


def build_graph(pos: Tensor, batch: Tensor, cutoff: float | None, loop: bool = False) -> Tensor:
    """Radius graph within ``cutoff`` (inclusive) or, when ``cutoff`` is None, the full graph;
    with the self-loops ``(i, i)`` when ``loop``.

    Shapes:
        pos ``[N, 3]``, batch ``[N]`` (sorted) -> edge_index ``[2, E]`` (src ``j``, dst ``i``).
    """
    if cutoff is None:
        return full_graph(batch, loop=loop)
    return radius_graph(pos, cutoff, batch, loop=loop)
