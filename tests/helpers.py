"""Synthetic molecules for tests that must not depend on the QM9 files."""

from __future__ import annotations

import torch
from torch_geometric.data import Batch, Data


def random_molecules(
    num_graphs: int = 3,
    atoms: tuple[int, int] = (3, 9),
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    in_features: int = 0,
    vector_in: int = 0,
) -> Batch:
    """A batch of random 'molecules': atoms 1-1.5 Å apart on average, elements H C N O F."""
    gen = torch.Generator().manual_seed(seed)
    elements = torch.tensor([1, 6, 7, 8, 9])
    graphs = []
    for _ in range(num_graphs):
        n = int(torch.randint(atoms[0], atoms[1] + 1, (1,), generator=gen))
        pos = (torch.randn(n, 3, generator=gen, dtype=torch.float64) * 1.5).to(dtype)
        data = Data(pos=pos, z=elements[torch.randint(0, 5, (n,), generator=gen)])
        if in_features:
            data.x = torch.randn(n, in_features, generator=gen, dtype=torch.float64).to(dtype)
        if vector_in:
            data.vec = torch.randn(n, vector_in, 3, generator=gen, dtype=torch.float64).to(dtype)
        graphs.append(data)
    return Batch.from_data_list(graphs)


def assert_rejects_bad_atoms(model, batch) -> None:
    """``model`` raises ``ValueError`` for NaN coordinates, an unknown element and missing ``z``."""
    import pytest

    nan = batch.clone()
    nan.pos = nan.pos.clone()
    nan.pos[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(nan)
    unknown = batch.clone()
    unknown.z = unknown.z.clone()
    unknown.z[0] = 92
    with pytest.raises(ValueError, match="unknown element"):
        model(unknown)
    missing = batch.clone()
    del missing.z
    with pytest.raises(ValueError, match="z"):
        model(missing)


def quiet_trainer(**kw):
    """A Lightning trainer on the CPU without logger, checkpoints, progress bar or summary."""
    import lightning.pytorch as L

    defaults = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    defaults.update(kw)
    return L.Trainer(**defaults)
