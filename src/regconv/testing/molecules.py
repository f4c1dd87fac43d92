"""Random molecules for tests and examples that must not depend on data files."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data

__all__ = ["random_molecules"]

#: the elements of QM9: H C N O F
ELEMENTS = (1, 6, 7, 8, 9)


def random_molecules(
    num_graphs: int = 3,
    atoms: tuple[int, int] = (3, 9),
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    in_features: int = 0,
    vector_in: int = 0,
) -> Batch:
    """A batch of ``num_graphs`` random 'molecules' of ``atoms[0]``..``atoms[1]`` atoms each:
    Gaussian positions of std 1.5 Å, elements drawn from H C N O F, optional scalar features
    ``x [N, in_features]`` and vectors ``vec [N, vector_in, 3]``; deterministic in ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    elements = torch.tensor(ELEMENTS)
    graphs = []
    for _ in range(num_graphs):
        n = int(torch.randint(atoms[0], atoms[1] + 1, (1,), generator=gen))
        pos = (torch.randn(n, 3, generator=gen, dtype=torch.float64) * 1.5).to(dtype)
        data = Data(pos=pos, z=elements[torch.randint(0, len(ELEMENTS), (n,), generator=gen)])
        if in_features:
            data.x = torch.randn(n, in_features, generator=gen, dtype=torch.float64).to(dtype)
        if vector_in:
            data.vec = torch.randn(n, vector_in, 3, generator=gen, dtype=torch.float64).to(dtype)
        graphs.append(data)
    return Batch.from_data_list(graphs)
