"""The tiny ``regconv fit`` runs of the command-line tests: their config and what they leave.

Tiny runs: an ``r3`` model of width 8 on 64 QM9 training molecules, 4 optimizer steps per epoch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import yaml

CONFIG = {
    "seed_everything": 7,
    "checkpoint_every_n_steps": 3,
    "trainer": {
        "accelerator": "cpu",
        "devices": 1,
        "max_epochs": 3,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "log_every_n_steps": 1,
        "gradient_clip_val": 5.0,
    },
    "model": {
        "model": "r3",
        "model_options": {"hidden": 8, "layers": 1, "basis": {"dim": 8}},
        "lr": 0.003,
        "warmup_steps": 2,
        "ema_decay": 0.9,
    },
    "data": {
        "class_path": "regconv.training.QM9DataModule",
        "init_args": {
            "target": ["homo", "alpha"],
            "train_subset": 64,
            "val_subset": 16,
            "test_subset": 12,
            "batch_size": 16,
            "eval_batch_size": 8,
        },
    },
}


def write_config(path: Path, config: dict = CONFIG) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def child_env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    for var in ("REGCONV_RUN_DIR", "LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_PORT"):
        env.pop(var, None)
    return env


def state(run_dir: Path, name: str = "last.ckpt") -> dict[str, torch.Tensor]:
    ckpt = torch.load(run_dir / "checkpoints" / name, map_location="cpu", weights_only=False)
    return ckpt["state_dict"]


def results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())
