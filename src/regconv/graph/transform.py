"""The one transform of a batch of graphs by an element of E(3) x S_N: rotations (one for all
graphs or one per graph), translations and node permutations, with one list of keys.

Used by the training task (rotation augmentation, test-time averaging) and the equivariance
kit (:mod:`regconv.testing`). The caller's batch is never modified: the result is a copy whose
transformed attributes are new tensors.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "CELL_KEYS",
    "GRAPH_KEYS",
    "POSITION_KEYS",
    "TENSOR_KEYS",
    "VECTOR_KEYS",
    "rotate_node_vectors",
    "transform_batch",
]

#: node-level points ``[N, 3]``: rotated and translated (``base``: a per-node reference
#: prediction; ``y_pos``: target positions)
POSITION_KEYS = ("pos", "base", "y_pos")
#: node-level vectors ``[N, V, 3]`` (``vec``) or ``[N, 3]`` (``forces``): rotated, not translated
VECTOR_KEYS = ("vec", "forces")
#: graph-level lattice vectors ``[B, 3, 3]`` (rows): rotated, not translated, not permuted
CELL_KEYS = ("cell",)
#: graph-level rank-2 tensors ``[B, 3, 3]`` (``stress``, ``virial``): ``Q T Q^T``
TENSOR_KEYS = ("stress", "virial")
#: graph-level keys never permuted with the nodes (whatever their first dimension)
GRAPH_KEYS = CELL_KEYS + TENSOR_KEYS + ("pbc",)


def _node_graph(batch) -> Tensor:
    index = getattr(batch, "batch", None)
    if index is None:
        index = torch.zeros(batch.pos.shape[0], dtype=torch.long, device=batch.pos.device)
    return index


def _rotate(value: Tensor, rotation: Tensor, per_node: Tensor | None) -> Tensor:
    if per_node is None:  # one rotation [3, 3]
        q = rotation.to(value)
        return value @ q.T
    r = per_node.to(value)  # [N, 3, 3]
    if value.dim() == 2:
        return torch.einsum("nij,nj->ni", r, value)
    return torch.einsum("nij,nvj->nvi", r, value)


def _rotate_graph_rows(value: Tensor, rotation: Tensor) -> Tensor:
    """``[B, 3, 3]`` rows ``a -> Q a``: ``A Q^T`` (``rotation`` ``[3, 3]`` or ``[B, 3, 3]``)."""
    q = rotation.to(value)
    if q.dim() == 2:
        return value @ q.T
    return torch.einsum("bij,bkj->bki", q, value.reshape(q.shape[0], 3, 3))


def _rotate_graph_tensor(value: Tensor, rotation: Tensor) -> Tensor:
    """``[B, 3, 3]`` tensors ``T -> Q T Q^T``."""
    q = rotation.to(value)
    if q.dim() == 2:
        return q @ value @ q.T
    value = value.reshape(q.shape[0], 3, 3)
    return torch.einsum("bij,bjk,blk->bil", q, value, q)


def transform_batch(
    batch,
    rotation: Tensor | None = None,
    translation: Tensor | None = None,
    permutation: Tensor | None = None,
    position_keys: tuple[str, ...] = (),
):
    """A transformed copy of ``batch``.

    - ``rotation`` ``[3, 3]`` (all graphs) or ``[B, 3, 3]`` (graph ``b`` by ``rotation[b]``): the
      :data:`POSITION_KEYS` and :data:`VECTOR_KEYS` present (and ``position_keys``, e.g. ``("y",)``
      where the targets are node positions) are rotated, ``x -> Q x``, with the lattice vectors
      of a periodic ``cell`` (:data:`CELL_KEYS`) and ``stress`` / ``virial`` as ``Q T Q^T``;
    - ``translation`` ``[3]``: the position keys are moved by ``t``;
    - ``permutation`` ``[N]``: node-level attributes reordered, ``new[i] = old[permutation[i]]``
      (every tensor whose first dimension is the number of nodes, except ``batch``, ``ptr`` and
      keys containing ``index`` and the graph-level :data:`GRAPH_KEYS`; the permutation must
      keep every node in its graph).
    """
    out = batch.clone() if hasattr(batch, "clone") else batch
    n = int(batch.pos.shape[0])
    positions = POSITION_KEYS + tuple(position_keys)
    if rotation is not None:
        per_node = None
        if rotation.dim() == 3:
            per_node = rotation.to(device=batch.pos.device)[_node_graph(batch)]  # [N, 3, 3]
        for key in positions + VECTOR_KEYS:
            value = getattr(batch, key, None)
            if value is not None:
                setattr(out, key, _rotate(value, rotation, per_node))
        for key in CELL_KEYS + TENSOR_KEYS:
            value = getattr(batch, key, None)
            if isinstance(value, Tensor) and value.is_floating_point():
                turn = _rotate_graph_rows if key in CELL_KEYS else _rotate_graph_tensor
                setattr(out, key, turn(value, rotation))
    if translation is not None:
        t = translation.to(batch.pos)
        for key in positions:
            value = getattr(out, key, None)
            if value is not None:
                setattr(out, key, value + t)
    if permutation is not None:
        for key in out.keys():
            if key in ("batch", "ptr") or key in GRAPH_KEYS or "index" in key:
                continue
            value = getattr(out, key)
            if isinstance(value, Tensor) and value.dim() >= 1 and value.shape[0] == n:
                setattr(out, key, value.index_select(0, permutation))
    return out


def rotate_node_vectors(out: Tensor, rotation: Tensor, batch, inverse: bool = False) -> Tensor:
    """Rotate node vectors ``out [N, C, 3]`` by ``rotation[b]`` of each node's graph
    (``rotation [B, 3, 3]``), or by its transpose with ``inverse`` (to undo a rotation)."""
    r = rotation.to(device=out.device, dtype=out.dtype)[_node_graph(batch)]  # [N, 3, 3]
    return torch.einsum("nji,ncj->nci" if inverse else "nij,ncj->nci", r, out)
