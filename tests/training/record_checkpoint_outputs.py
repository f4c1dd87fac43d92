"""Record what the checkpoints in ``data/`` predict, for ``test_old_checkpoints.py``.

The two checkpoints were written by ``regconv fit`` with shipped configs before the model core
was redesigned (two optimizer steps each, on small subsets):

    regconv fit --config configs/qm9_quick.yaml --run_dir R --trainer.max_steps 2 \
        --data.init_args.train_subset 64 --data.init_args.val_subset 32 --data.init_args.test_subset 32
    regconv fit --config configs/nbody_r3s2_cpu.yaml --run_dir R --trainer.max_steps 2 \
        --model.model_options.hidden 16 --data.init_args.num_train 50

Run from the repository root: ``.venv/bin/python tests/training/record_checkpoint_outputs.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch_geometric.data import Batch, Data

HERE = Path(__file__).resolve().parent
CHECKPOINTS = {"qm9": HERE / "data" / "qm9_quick_v0.ckpt", "nbody": HERE / "data" / "nbody_r3s2_cpu_v0.ckpt"}
RECORDING = HERE / "data" / "checkpoint_outputs_v0.pt"


def inputs(kind: str) -> Batch:
    gen = torch.Generator().manual_seed(7)
    graphs = []
    for n in (5, 7):
        pos = torch.randn(n, 3, generator=gen) * 1.4
        if kind == "qm9":
            z = torch.tensor([6, 1, 8, 7, 1, 6, 9][:n])
            graphs.append(Data(pos=pos, z=z))
        else:
            x = torch.sign(torch.randn(n, 1, generator=gen))
            vec = torch.randn(n, 1, 3, generator=gen) * 0.5
            graphs.append(Data(pos=pos, x=x, vec=vec))
    return Batch.from_data_list(graphs)


def predictions() -> dict[str, torch.Tensor]:
    from regconv.training.predict import load_task

    out = {}
    for kind, path in CHECKPOINTS.items():
        task = load_task(path)
        task.eval()
        with torch.no_grad():
            out[kind] = task(inputs(kind))
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1] / "src"))
    preds = predictions()
    torch.save(preds, RECORDING)
    for k, v in preds.items():
        print(k, tuple(v.shape), float(v.abs().mean()))
