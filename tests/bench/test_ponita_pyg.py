"""regconv.bench.ponita_pyg: the wiring of a user's checkout of PONITA's paper code (PyG) into
the throughput benchmark, checked on a stand-in checkout whose model reports what it was given
(the real one is never vendored)."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from regconv.bench.ponita_pyg import PonitaPyG, import_ponita
from regconv.bench.throughput import build_model
from regconv.testing.molecules import random_molecules

FAKE_MODEL = """
import torch
from torch import nn
from torch_scatter import scatter_mean


class _Model(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_layers, **kw):
        super().__init__()
        self.kw = dict(kw, input_dim=input_dim, hidden_dim=hidden_dim, num_layers=num_layers)
        self.w = nn.Linear(input_dim, output_dim, bias=False)
        nn.init.ones_(self.w.weight)

    def forward(self, graph):
        if self.training:
            print("Callibrating...")
        b = graph.batch
        num_graphs = int(b.max()) + 1
        slot = graph.x.argmax(-1).to(graph.pos.dtype)  # element slot of each atom
        n_edges = torch.bincount(b[graph.edge_index[1]], minlength=num_graphs)
        mean_slot = scatter_mean(slot, b, dim=0, dim_size=num_graphs)
        out = torch.stack([mean_slot, n_edges.to(slot.dtype)], -1) + 0 * self.w(graph.x).sum()
        return out, None


def Ponita(*args, **kw):
    return _Model(*args, **kw)
"""


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    root = tmp_path / "ponita-checkout"
    (root / "ponita" / "models").mkdir(parents=True)
    (root / "ponita" / "transforms").mkdir()
    (root / "ponita" / "__init__.py").write_text("")
    (root / "ponita" / "models" / "__init__.py").write_text("")
    (root / "ponita" / "models" / "ponita.py").write_text(textwrap.dedent(FAKE_MODEL))
    (root / "ponita" / "transforms" / "__init__.py").write_text("")
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [m for m in sys.modules if m == "ponita" or m.startswith("ponita.")]:
        monkeypatch.delitem(sys.modules, name)
    if "torch_scatter" not in sys.modules:  # the stand-in is registered by import_ponita
        monkeypatch.setitem(sys.modules, "torch_scatter", None)
        monkeypatch.delitem(sys.modules, "torch_scatter")
    return root


def test_the_model_gets_one_hot_elements_and_complete_graphs(checkout, capsys):
    model = PonitaPyG(checkout, hidden=8, layers=1)
    assert "Callibrating" not in capsys.readouterr().out  # its prints go to stderr
    assert import_ponita(checkout) == model.info  # a second import reports the same
    try:
        import torch_scatter

        real = not getattr(torch_scatter, "REGCONV_STAND_IN", False)
    except ImportError:
        real = False
    assert model.info["torch_scatter"] == ("installed" if real else "plain-torch stand-in")
    assert model.model.kw["radius"] is None and model.model.kw["num_ori"] == 16
    batch = random_molecules(3, seed=2, dtype=torch.float32)
    out = model(batch)  # [B, 2]: mean element slot, number of edges per graph
    n = torch.bincount(batch.batch)
    torch.testing.assert_close(out[:, 1], (n * (n - 1)).float())
    slots = {1: 0, 6: 1, 7: 2, 8: 3, 9: 4}
    want = [
        torch.tensor([slots[int(z)] for z in batch.z[batch.batch == g]]).float().mean()
        for g in range(3)
    ]
    torch.testing.assert_close(out[:, 0], torch.stack(want))
    batch.z[0] = 3  # lithium
    with pytest.raises(ValueError, match="H, C, N, O, F"):
        model(batch)


def test_the_throughput_spec_needs_a_path_and_a_checkout(checkout, tmp_path):
    model, options = build_model(f"ponita:path={checkout},hidden=8,layers=1")
    assert isinstance(model, PonitaPyG) and options["hidden"] == 8
    assert options["implementation"] == "ponita" and options["commit"] is None  # not a git tree
    with pytest.raises(ValueError, match="needs its checkout"):
        build_model("ponita")
    with pytest.raises(ValueError, match="not a checkout of PONITA's paper code"):
        import_ponita(tmp_path / "elsewhere")
    # the rewrite's name on the paper code's checkout: told, not run
    with pytest.raises(ValueError, match="name it ponita:path="):
        build_model(f"ponita-torch:path={checkout}")
