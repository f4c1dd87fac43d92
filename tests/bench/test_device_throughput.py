"""regconv.bench.device_throughput on the CPU: one line per model, precision and mode."""

from __future__ import annotations

import json

import pytest

from regconv.bench.device_throughput import main, precision


def test_lines_per_model_precision_and_mode(capsys):
    argv = ["--device", "cpu", "--models", "r3:hidden=8,layers=1", "schnet:hidden=8,layers=1",
            "--config", "default", "--subset", "8", "--batch-size", "4", "--warmup", "1",
            "--steps", "2", "--precisions", "fp32", "bf16"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [(r["model"].split(":")[0], r["precision"], r["mode"]) for r in lines] == [
        (m, p, mode)
        for m in ("r3", "schnet")
        for p in ("fp32", "bf16")
        for mode in ("train", "infer")
    ]
    assert all(
        "error" not in r and r["molecules_per_s"] > 0 and r["device"] == "cpu" for r in lines
    )


def test_tf32_is_refused_off_cuda():
    import torch

    with pytest.raises(ValueError, match="CUDA"), precision("tf32", torch.device("cpu")):
        pass
