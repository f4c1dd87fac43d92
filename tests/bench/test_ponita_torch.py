"""regconv.bench.ponita_torch and ponita_checkouts: the author's pure-torch rewrite from a user's
checkout, told apart from the paper code by its layout, checked on stand-in checkouts whose
models report what they were given (the real ones are never vendored)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from regconv.bench.ponita_checkouts import checkout_kind, describe
from regconv.bench.ponita_torch import PonitaTorch, load_ponita_torch
from regconv.bench.throughput import _ratios, add_arguments, build_model
from regconv.testing.molecules import random_molecules

FAKE_REWRITE = """
import torch
from torch import nn


class Ponita(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers, output_dim_vec=0, dim=3,
                 num_ori=20, basis_dim=None, degree=2, widening_factor=4, layer_scale=None,
                 task_level="graph", multiple_readouts=True, **kwargs):
        super().__init__()
        self.kw = dict(input_dim=input_dim, hidden_dim=hidden_dim, num_layers=num_layers,
                       num_ori=num_ori, basis_dim=basis_dim, degree=degree,
                       multiple_readouts=multiple_readouts, layer_scale=layer_scale)
        self.w = nn.Linear(input_dim, output_dim, bias=False)

    def forward(self, x, pos, edge_index, batch=None):
        if self.training:
            print("Callibrating...")
        num_graphs = int(batch.max()) + 1
        slot = x.argmax(-1).to(pos.dtype)
        n_edges = torch.bincount(batch[edge_index[1]], minlength=num_graphs).to(pos.dtype)
        loops = torch.bincount(batch[edge_index[1]][edge_index[0] == edge_index[1]],
                               minlength=num_graphs).to(pos.dtype)
        mean_slot = torch.zeros(num_graphs, dtype=pos.dtype).index_add_(0, batch, slot)
        mean_slot = mean_slot / torch.bincount(batch, minlength=num_graphs)
        out = torch.stack([mean_slot, n_edges, loops], -1) + 0 * self.w(x).sum()
        return out, None
"""


@pytest.fixture
def rewrite(tmp_path):
    root = tmp_path / "ponita-torch"
    (root / "models").mkdir(parents=True)
    (root / "models" / "ponita.py").write_text(textwrap.dedent(FAKE_REWRITE))
    return root


@pytest.fixture
def paper_code(tmp_path):
    root = tmp_path / "ponita"
    (root / "ponita" / "models").mkdir(parents=True)
    (root / "ponita" / "models" / "ponita.py").write_text("")
    return root


def test_the_rewrite_gets_one_hot_elements_and_complete_graphs(rewrite, capsys):
    model = PonitaTorch(rewrite, hidden=8, layers=1)
    kw = model.model.kw
    assert (kw["input_dim"], kw["hidden_dim"], kw["num_layers"]) == (5, 8, 1)
    assert (kw["num_ori"], kw["basis_dim"], kw["degree"]) == (16, 256, 3)
    assert kw["multiple_readouts"] is False and kw["layer_scale"] is None
    assert "models" not in sys.modules or not hasattr(sys.modules["models"], "Ponita")
    batch = random_molecules(3, seed=2, dtype=torch.float32)
    out = model(batch)  # [B, 3]: mean element slot, edges per graph, self-loops per graph
    n = torch.bincount(batch.batch)
    torch.testing.assert_close(out[:, 1], (n * (n - 1)).float())
    assert out[:, 2].sum() == 0  # no self-loops: the graph r3s2 runs at the PONITA config
    slots = {1: 0, 6: 1, 7: 2, 8: 3, 9: 4}
    want = [
        torch.tensor([slots[int(z)] for z in batch.z[batch.batch == g]]).float().mean()
        for g in range(3)
    ]
    torch.testing.assert_close(out[:, 0], torch.stack(want))
    captured = capsys.readouterr()
    assert "Callibrating" not in captured.out and "Callibrating" in captured.err
    batch.z[0] = 3  # lithium
    with pytest.raises(ValueError, match="H, C, N, O, F"):
        model(batch)


def test_checkouts_are_told_apart_by_layout_and_named_with_their_commit(
    rewrite, paper_code, tmp_path
):
    assert checkout_kind(rewrite) == "ponita-torch"
    assert checkout_kind(paper_code) == "ponita"
    with pytest.raises(ValueError, match="not a PONITA checkout"):
        checkout_kind(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="not a ponita-torch checkout"):
        load_ponita_torch(paper_code)
    older = tmp_path / "older-paper-code"  # a models/ponita.py of another kind
    (older / "models").mkdir(parents=True)
    (older / "models" / "ponita.py").write_text("from src.nn import x\n\nclass PONITA:\n    pass\n")
    with pytest.raises(ValueError, match="not a PONITA checkout"):
        checkout_kind(older)
    broken = tmp_path / "needs-a-package"
    (broken / "models").mkdir(parents=True)
    text = "import not_installed_here\n\nclass Ponita(object):\n    pass\n"
    (broken / "models" / "ponita.py").write_text(text)
    with pytest.raises(ValueError, match="does not import here"):
        load_ponita_torch(broken)
    assert describe(rewrite)["commit"] is None  # not a git work tree
    git = ["git", "-C", str(rewrite), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "fake"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    info = describe(rewrite)
    assert info["implementation"] == "ponita-torch" and info["commit"] == head.strip()
    assert "ponita-torch" in info["source"]


def test_the_throughput_spec_builds_the_rewrite_and_refuses_the_wrong_name(rewrite, paper_code):
    model, options = build_model(f"ponita-torch:path={rewrite},hidden=8,layers=1")
    assert isinstance(model, PonitaTorch) and options["hidden"] == 8
    assert options["implementation"] == "ponita-torch"
    with pytest.raises(ValueError, match="needs its checkout"):
        build_model("ponita-torch")
    with pytest.raises(ValueError, match="name it ponita-torch:path="):
        build_model(f"ponita:path={rewrite}")


def test_both_flags_take_checkouts():
    import argparse

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert p.parse_args(["--ponita", "a", "b"]).ponita == ["a", "b"]
    assert p.parse_args(["--ponita-torch", "a", "--ponita", "b"]).ponita == ["a", "b"]
    assert p.parse_args([]).ponita is None


def test_ratios_are_each_model_over_each_reference():
    rows = [("train", "ponita-torch:path=/x", 10.0), ("train", "ponita:path=/y", 5.0),
            ("train", "r3s2", 35.0), ("infer", "r3s2", 50.0)]  # fmt: skip
    keys = ("mode", "model", "molecules_per_s")
    recs = [{"bench": "throughput", **dict(zip(keys, row, strict=True))} for row in rows]
    out = _ratios(recs)
    got = sorted((r["reference_model"], r["mode"], r["model"], r["ratio"]) for r in out)
    assert got == [("ponita-torch:path=/x", "train", "r3s2", 3.5),
                   ("ponita:path=/y", "train", "r3s2", 7.0)]  # fmt: skip
    assert {r["reference"] for r in out} == {"ponita", "ponita-torch"}
    assert _ratios(recs[2:]) == []  # no reference, no ratio
