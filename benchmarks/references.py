r"""PyTorch Geometric's SchNet and DimeNet++ as reference models, on regconv's graphs.

PyG builds radius graphs with ``torch_cluster`` and DimeNet++'s triplets with ``torch_sparse``,
neither of which is installed here; both are replaced by plain-torch equivalents with PyG's
conventions:

- SchNet gets :func:`regconv.graph.radius_graph` through its ``interaction_graph`` argument,
  ``(pos, batch) -> (edge_index, |pos[row] - pos[col]|)``; ``edge_index[0]`` is the neighbour
  ``j`` and ``edge_index[1]`` the centre ``i`` (PyG's ``source_to_target`` flow, regconv's
  convention too).
- DimeNet++: ``torch_geometric.nn.models.dimenet`` looks ``radius_graph`` and ``triplets`` up in
  its module namespace at call time; :func:`install_dimenet_graph_functions` replaces them there
  (once, idempotent) by :func:`pyg_radius_graph` and :func:`pyg_triplets`. PyG's
  ``triplets(edge_index, num_nodes)`` returns ``(col, row, idx_i, idx_j, idx_k, idx_kj, idx_ji)``
  with, for every pair of edges ``k -> j`` (id ``kj``) and ``j -> i`` (id ``ji``) with
  ``k != i``, ordered by ``ji`` then ``k``; :func:`regconv.graph.edge_pairs` enumerates exactly
  these pairs (row 0 the edge ``k -> j``, row 1 the edge ``j -> i``) in the same order.

PyG's ``max_num_neighbors=32`` cap never binds on QM9 at 5 Å (at most 28 atoms per molecule);
regconv's radius graph has no cap.
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor, nn

from regconv.graph import edge_pairs, radius_graph

__all__ = [
    "PyGSchNet",
    "PyGDimeNetPP",
    "pyg_radius_graph",
    "pyg_triplets",
    "install_dimenet_graph_functions",
    "REFERENCES",
    "create_reference",
]


def pyg_radius_graph(
    pos: Tensor,
    r: float,
    batch: Tensor | None = None,
    loop: bool = False,
    max_num_neighbors: int = 32,
    flow: str = "source_to_target",
    **_,
) -> Tensor:
    """Drop-in for ``torch_geometric.nn.radius_graph`` (no neighbour cap)."""
    if flow != "source_to_target":
        raise ValueError("only flow='source_to_target' is supported")
    return radius_graph(pos, float(r), batch, loop=loop)


def pyg_triplets(edge_index: Tensor, num_nodes: int):
    """Drop-in for ``torch_geometric.nn.models.dimenet.triplets`` without torch_sparse."""
    row, col = edge_index  # j -> i
    pairs = edge_pairs(
        edge_index, int(num_nodes)
    )  # [2, T]: (edge k->j, edge j->i), sorted by (ji, kj)
    idx_kj, idx_ji = pairs[0], pairs[1]
    idx_i = col[idx_ji]
    idx_j = row[idx_ji]
    idx_k = row[idx_kj]
    return col, row, idx_i, idx_j, idx_k, idx_kj, idx_ji


def install_dimenet_graph_functions() -> None:
    """Point PyG's DimeNet module at :func:`pyg_radius_graph` and :func:`pyg_triplets`, and
    remember its symbolic Bessel basis (``dimenet_utils.bessel_basis``: the same sympy
    expressions for the same sizes, ~10 s of root finding per model otherwise)."""
    from torch_geometric.nn.models import dimenet, dimenet_utils

    dimenet.radius_graph = pyg_radius_graph
    dimenet.triplets = pyg_triplets
    if not hasattr(dimenet_utils.bessel_basis, "cache_info"):
        dimenet_utils.bessel_basis = functools.cache(dimenet_utils.bessel_basis)


class _Interaction:
    def __init__(self, cutoff: float) -> None:
        self.cutoff = float(cutoff)

    def __call__(self, pos: Tensor, batch: Tensor):
        edge_index = radius_graph(pos, self.cutoff, batch)
        row, col = edge_index
        return edge_index, (pos[row] - pos[col]).norm(dim=-1)


class PyGSchNet(nn.Module):
    """``torch_geometric.nn.models.SchNet`` (hidden 128, 128 filters, 6 interactions, 50 Gaussians,
    cutoff 5 Å) on regconv's radius graph; takes a regconv batch, returns ``[B, num_outputs]``.
    ``readout`` is PyG's: ``"add"`` (the paper's sum over atoms) or ``"mean"``."""

    def __init__(
        self,
        num_outputs: int = 1,
        hidden: int = 128,
        interactions: int = 6,
        cutoff: float = 5.0,
        readout: str = "add",
    ) -> None:
        super().__init__()
        from torch_geometric.nn.models import SchNet

        if readout not in ("add", "mean"):
            raise ValueError(f"readout must be 'add' or 'mean', got {readout!r}")

        self.model = SchNet(
            hidden_channels=hidden,
            num_filters=hidden,
            num_interactions=interactions,
            num_gaussians=50,
            cutoff=cutoff,
            readout=readout,
            interaction_graph=_Interaction(cutoff),
        )
        if num_outputs != 1:
            self.model.lin2 = nn.Linear(hidden // 2, num_outputs)

    def forward(self, batch) -> Tensor:
        return self.model(batch.z, batch.pos, batch.batch)


class PyGDimeNetPP(nn.Module):
    """``torch_geometric.nn.models.DimeNetPlusPlus`` (hidden 128, 4 blocks, int 64, basis 8,
    out 256, 7 spherical, 6 radial, cutoff 5 Å) with plain-torch radius graph and triplets."""

    def __init__(
        self, num_outputs: int = 1, hidden: int = 128, blocks: int = 4, cutoff: float = 5.0
    ) -> None:
        super().__init__()
        from torch_geometric.nn.models import DimeNetPlusPlus

        install_dimenet_graph_functions()
        self.model = DimeNetPlusPlus(
            hidden_channels=hidden,
            out_channels=num_outputs,
            num_blocks=blocks,
            int_emb_size=64,
            basis_emb_size=8,
            out_emb_channels=256,
            num_spherical=7,
            num_radial=6,
            cutoff=cutoff,
        )

    def forward(self, batch) -> Tensor:
        return self.model(batch.z, batch.pos, batch.batch)


REFERENCES = {"schnet-pyg": PyGSchNet, "dimenet++-pyg": PyGDimeNetPP}


def create_reference(name: str, num_outputs: int = 1) -> nn.Module:
    if name not in REFERENCES:
        raise ValueError(f"unknown reference model {name!r}; choose one of {sorted(REFERENCES)}")
    torch.manual_seed(0)
    return REFERENCES[name](num_outputs=num_outputs)
