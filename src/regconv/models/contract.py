"""The model contract: what every model reads from a batch and what it returns.

A model is built as ``Model(num_outputs, output, in_features, vector_in, *, options...)`` (the
four task-contract arguments come from the task spec; every model option is keyword-only) and
called on a PyG ``Batch`` with

- ``pos [N, 3]`` (finite), ``batch [N]`` (sorted; absent for a single graph);
- ``z [N]`` atomic numbers when ``in_features == 0``, else scalar features ``x [N, in_features]``;
- ``vec [N, vector_in, 3]`` node vectors when ``vector_in > 0``;
- for periodic systems, ``cell [B, 3, 3]`` (rows: lattice vectors, Å) and ``pbc [B, 3]``
  (bool); a batch without them, or with ``pbc`` all false, is a set of molecules.

It returns ``[B, num_outputs]`` invariants (``output="graph"``) or ``[N, num_outputs, 3]``
equivariant vectors (``output="node_vector"``). :func:`check_batch` raises ``ValueError`` for a
batch that breaks the contract; :func:`batch_edges` is the graph every model builds, with the
relative position ``x_j - x_i (+ S cell)`` of each edge.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from regconv.graph import Edges, build_edges, build_graph

__all__ = [
    "OUTPUTS",
    "Output",
    "batch_edges",
    "batch_vector",
    "build_graph",
    "check_batch",
    "check_contract",
    "periodic_cell",
    "set_contract",
]

Output = Literal["graph", "node_vector"]
OUTPUTS = ("graph", "node_vector")


def check_contract(num_outputs: int, output: str, in_features: int, vector_in: int) -> None:
    """``ValueError`` unless the four task-contract arguments are valid."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be 'graph' or 'node_vector', got {output!r}")
    for name, value, least in (
        ("num_outputs", num_outputs, 1),
        ("in_features", in_features, 0),
        ("vector_in", vector_in, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


def set_contract(model, num_outputs: int, output: str, in_features: int, vector_in: int) -> None:
    """:func:`check_contract`, then keep the four arguments as attributes of ``model`` of the
    same names (what :func:`check_batch` and the readouts read in ``forward``)."""
    check_contract(num_outputs, output, in_features, vector_in)
    model.num_outputs, model.output = num_outputs, output
    model.in_features, model.vector_in = in_features, vector_in


def check_batch(batch, in_features: int, vector_in: int) -> None:
    """Raise ``ValueError`` if the PyG batch lacks what the model contract needs."""
    pos = getattr(batch, "pos", None)
    if pos is None or pos.dim() != 2 or pos.shape[-1] != 3:
        raise ValueError("batch.pos must be a [N, 3] tensor of positions")
    if not bool(torch.isfinite(pos).all()):
        raise ValueError("batch.pos contains NaN or Inf coordinates")
    periodic_cell(batch)
    if in_features == 0 and getattr(batch, "z", None) is None:
        raise ValueError("this model embeds atomic numbers: the batch needs z [N]")
    if in_features > 0:
        x = getattr(batch, "x", None)
        if x is None or x.dim() != 2 or x.shape[1] != in_features:
            raise ValueError(f"this model needs scalar features x of shape [N, {in_features}]")
    if vector_in > 0:
        vec = getattr(batch, "vec", None)
        if vec is None or tuple(vec.shape[1:]) != (vector_in, 3):
            raise ValueError(f"this model needs vector features vec of shape [N, {vector_in}, 3]")


def batch_vector(batch) -> tuple[Tensor, int]:
    """The node-to-graph vector and the number of graphs (a single graph if absent)."""
    b = getattr(batch, "batch", None)
    if b is None:
        return torch.zeros(batch.pos.shape[0], dtype=torch.long, device=batch.pos.device), 1
    num_graphs = getattr(batch, "num_graphs", None)
    return b, int(num_graphs) if num_graphs is not None else int(b.max()) + 1 if b.numel() else 0


def periodic_cell(batch) -> tuple[Tensor | None, Tensor | None]:
    """The batch's ``cell [B, 3, 3]`` and ``pbc [B, 3]`` (bool), or ``(None, None)`` for
    molecules (no ``pbc``, or ``pbc`` all false).

    Raises ``ValueError`` for ``pbc`` without a cell, shapes that do not match the number of
    graphs, or a cell with NaN or Inf. (A singular cell is refused by the graph builder, which
    names the graph; a left-handed cell is a valid input of these E(3)-invariant models: readers
    of data files refuse it.)"""
    pbc = getattr(batch, "pbc", None)
    if pbc is None:
        return None, None
    pbc = torch.as_tensor(pbc)
    if pbc.dtype != torch.bool:
        raise ValueError(f"batch.pbc must be a bool tensor [B, 3], got dtype {pbc.dtype}")
    if not bool(pbc.any()):
        return None, None
    cell = getattr(batch, "cell", None)
    if cell is None:
        raise ValueError("batch.pbc is set but the batch has no cell [B, 3, 3]")
    if not isinstance(cell, Tensor) or not cell.is_floating_point():
        raise ValueError("batch.cell must be a floating-point tensor [B, 3, 3]")
    _, num_graphs = batch_vector(batch)
    cell = cell.reshape(-1, 3, 3) if cell.numel() == 9 * num_graphs else cell
    pbc = pbc.reshape(-1, 3) if pbc.numel() == 3 * num_graphs else pbc
    if tuple(cell.shape) != (num_graphs, 3, 3) or tuple(pbc.shape) != (num_graphs, 3):
        raise ValueError(
            f"a batch of {num_graphs} graphs needs cell [{num_graphs}, 3, 3] and pbc "
            f"[{num_graphs}, 3], got {tuple(cell.shape)} and {tuple(pbc.shape)}"
        )
    if not bool(torch.isfinite(cell).all()):
        raise ValueError("batch.cell contains NaN or Inf")
    return cell, pbc


def batch_edges(batch, pos: Tensor, bvec: Tensor, cutoff: float | None, loop: bool = False) -> Edges:
    """The edges a model runs on and their ``x_ij`` (:func:`regconv.graph.build_edges`), periodic
    where the batch carries a periodic cell. ``pos`` and ``bvec`` may be the batch's in another
    node order (:class:`regconv.graph.NodeOrder`); the cells are per graph.

    Shapes:
        pos ``[N, 3]``, bvec ``[N]`` -> :class:`regconv.graph.Edges`.
    """
    cell, pbc = periodic_cell(batch)
    if cell is not None:
        cell = cell.to(device=pos.device, dtype=pos.dtype)
        pbc = pbc.to(device=pos.device)
    return build_edges(pos, bvec, cutoff, loop, cell=cell, pbc=pbc)
