"""Record the outputs of every registered model and of every shipped config's model.

The recording pins the behaviour of the model code: ``test_golden_outputs.py`` rebuilds each case
(through :mod:`regconv.models.legacy`, which maps the options and parameter names of older
releases), fills the parameters with the same values and compares outputs and position gradients
in float64. Parameters are filled by name (``fill_parameters``), not drawn from the global RNG in
construction order, so the recording does not depend on the order in which modules are built.

Run from the repository root (it overwrites the recording; do so only when a change of the
numbers is intended):

    .venv/bin/python tests/models/record_golden.py
"""

from __future__ import annotations

import copy
import sys
import zlib
from pathlib import Path

import torch
import yaml
from torch_geometric.data import Batch, Data

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RECORDING = HERE / "data" / "golden_outputs.pt"
#: the shipped configs that the first recording leaves out (changed on purpose or added after it),
#: recorded from release 0.5.2 (commit 46ff441), before the second redesign step
CONFIGS_RECORDING = HERE / "data" / "golden_configs_0_5_2.pt"
LATER_CONFIGS = ("md17_quick.yaml", "md17_r3s2.yaml", "qm9_quick.yaml", "qm9_r3s2.yaml")

SMALL = {"hidden": 16, "layers": 2}
FIBRE_SMALL = {**SMALL, "basis_dim": 16}

#: (case name, registry name, options, contract) for the registered models' cases; contract is
#: (num_outputs, output, in_features, vector_in)
GRAPH = (2, "graph", 0, 0)
VECTOR = (1, "node_vector", 1, 1)


def registry_cases() -> list[tuple[str, str, dict, tuple]]:
    c = []
    c.append(("schnet", "schnet", {**SMALL, "num_rbf": 12}, GRAPH))
    c.append(("schnet-table", "schnet", {**SMALL, "num_rbf": 12, "table_step": 0.01}, GRAPH))
    c.append(("schnet-mean", "schnet", {**SMALL, "num_rbf": 12, "pooling": "mean"}, GRAPH))
    c.append(("egnn", "egnn", SMALL, GRAPH))
    c.append(("egnn-vector", "egnn", SMALL, VECTOR))
    c.append(("dimenet", "dimenet", SMALL, GRAPH))
    c.append(("dimenet-atom", "dimenet", {**SMALL, "output_block": "atom"}, GRAPH))
    c.append(("spherenet", "spherenet", SMALL, GRAPH))
    c.append(("r3s2-edge", "r3s2-edge", SMALL, GRAPH))
    c.append(("r3s2-edge-vector", "r3s2-edge", SMALL, VECTOR))
    c.append(("r3", "r3", FIBRE_SMALL, GRAPH))
    c.append(("r3-full-graph", "r3", {**FIBRE_SMALL, "cutoff": None}, GRAPH))
    c.append(("r3-table", "r3", {**FIBRE_SMALL, "table_step": 0.05}, GRAPH))
    c.append(("r3-vector", "r3", FIBRE_SMALL, VECTOR))
    o8 = {**FIBRE_SMALL, "num_orientations": 8}
    c.append(("r3s2", "r3s2", o8, GRAPH))
    c.append(("r3s2-cutoff", "r3s2", {**o8, "cutoff": 3.0}, GRAPH))
    c.append(("r3s2-table", "r3s2", {**o8, "table_step": 0.1}, GRAPH))
    c.append(("r3s2-table-cutoff", "r3s2", {**o8, "table_step": 0.1, "cutoff": 3.0}, GRAPH))
    c.append(("r3s2-full", "r3s2", {**o8, "kernel": "full"}, GRAPH))
    c.append(("r3s2-full-chiral", "r3s2", {**o8, "kernel": "full", "chiral": True}, GRAPH))
    c.append(("r3s2-all-layers-mean", "r3s2", {**o8, "readout_all_layers": True, "pooling": "mean",
                                                "layer_scale": None}, GRAPH))
    c.append(("r3s2-vector", "r3s2", o8, VECTOR))
    c.append(("r3s2-vector-loops", "r3s2", {**o8, "self_loops": True}, VECTOR))
    c.append(("r3s2-approach", "r3s2", {**o8, "self_loops": True, "radial_scales": [0.1, 1.0],
                                         "approach_horizon": 1.0}, VECTOR))
    c.append(("r3s2-heading", "r3s2", {**o8, "radial_scales": [0.1, 1.0], "approach_horizon": 1.0,
                                        "approach_invariants": True}, VECTOR))
    c.append(("r3s2-full-radial", "r3s2", {**o8, "kernel": "full", "radial_scales": [0.3]}, GRAPH))
    c.append(("r3-approach", "r3", {**FIBRE_SMALL, "cutoff": None, "self_loops": True,
                                     "radial_scales": [0.1, 1.0], "approach_horizon": 1.0}, VECTOR))
    c.append(("r3-heading", "r3", {**FIBRE_SMALL, "radial_scales": [0.3], "approach_horizon": 1.0,
                                    "approach_invariants": True}, VECTOR))
    c.append(("se3", "se3", {**FIBRE_SMALL, "group": "tetrahedral"}, GRAPH))
    c.append(("se3-vector", "se3", {**FIBRE_SMALL, "group": "tetrahedral"}, VECTOR))
    c.append(("se3-approach", "se3", {**FIBRE_SMALL, "group": "tetrahedral", "radial_scales": [0.3],
                                       "approach_horizon": 1.0, "approach_invariants": True},
              VECTOR))
    c.append(("r3s2-attention", "r3s2-attention", {**o8, "heads": 2}, GRAPH))
    c.append(("r3s2-attention-cutoff", "r3s2-attention", {**o8, "heads": 2, "cutoff": 3.0}, GRAPH))
    c.append(("r3s2-attention-vector", "r3s2-attention", {**o8, "heads": 2}, VECTOR))
    return c


def config_cases() -> list[tuple[str, str, dict, tuple]]:
    """Every shipped config's model at its configured size, with its task's contract."""
    out = []
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text())
        model = cfg["model"]
        name, options = model["model"], dict(model.get("model_options") or {})
        nbody = "NBody" in cfg["data"]["class_path"]
        contract = (1, "node_vector", 1, 1) if nbody else (1, "graph", 0, 0)
        out.append((f"config:{path.name}", name, options, contract))
    return out


def molecules(seed: int, in_features: int, vector_in: int) -> Batch:
    """Three small random molecules (elements H C N O F, atoms ~1.5 Å apart), float64."""
    gen = torch.Generator().manual_seed(seed)
    elements = torch.tensor([1, 6, 7, 8, 9])
    graphs = []
    for n in (4, 6, 5):
        pos = torch.randn(n, 3, generator=gen, dtype=torch.float64) * 1.5
        data = Data(pos=pos, z=elements[torch.randint(0, 5, (n,), generator=gen)])
        if in_features:
            data.x = torch.randn(n, in_features, generator=gen, dtype=torch.float64)
        if vector_in:
            data.vec = torch.randn(n, vector_in, 3, generator=gen, dtype=torch.float64)
        graphs.append(data)
    return Batch.from_data_list(graphs)


def fill_parameters(model: torch.nn.Module, names: dict[str, str] | None = None) -> None:
    """Overwrite every parameter with values drawn from a generator seeded by its name.

    ``names`` maps a parameter's name in ``model`` to the name it was recorded under (identity by
    default). Matrices get ``U(-1, 1) / sqrt(fan_in)``, vectors ``U(-0.3, 0.3)`` (so layer scales
    and biases are far from their initial values and every block contributes).
    """
    names = names or {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            key = names.get(name, name)
            gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
            u = torch.rand(p.shape, generator=gen, dtype=torch.float64) * 2 - 1
            scale = 1.0 / p.shape[-1] ** 0.5 if p.dim() >= 2 else 0.3
            p.copy_((u * scale).to(p.dtype))


def evaluate(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Output and the gradient of ``sum(out * w)`` (fixed weights ``w``) with respect to pos."""
    batch = copy.copy(batch)
    batch.pos = batch.pos.clone().requires_grad_(True)
    out = model(batch)
    w = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).view(out.shape)
    (grad,) = torch.autograd.grad((out * w).sum(), batch.pos)
    return out.detach(), grad.detach()


def record(cases_to_record: list[tuple[str, str, dict, tuple]]) -> dict:
    from regconv import __version__, models
    from regconv.models.legacy import upgrade_options

    torch.set_default_dtype(torch.float64)
    cases = {}
    for case, name, options, contract in cases_to_record:
        num_outputs, output, in_features, vector_in = contract
        # the cases above name the flat options of the releases that recorded them
        built, today = upgrade_options(name, options, __version__)
        model = models.create(
            built, num_outputs=num_outputs, output=output, in_features=in_features,
            vector_in=vector_in, **today,
        ).double().eval()
        fill_parameters(model)
        batch = molecules(zlib.crc32(case.encode()) % 1000, in_features, vector_in)
        out, grad = evaluate(model, batch)
        if not (torch.isfinite(out).all() and torch.isfinite(grad).all()):
            raise RuntimeError(f"{case}: non-finite output")
        cases[case] = {
            "model": name,
            "options": options,
            "contract": contract,
            "parameters": sorted(n for n, _ in model.named_parameters()),
            "out": out,
            "grad": grad,
        }
        print(f"{case:32s} {name:16s} out {tuple(out.shape)} |out| {out.abs().mean():.3e} "
              f"|grad| {grad.abs().mean():.3e}")
    return cases


if __name__ == "__main__":
    # ``record_golden.py`` rewrites the first recording; ``record_golden.py configs`` the one of
    # the configs in LATER_CONFIGS
    sys.path.insert(0, str(ROOT / "src"))
    if sys.argv[1:] == ["configs"]:
        later = [c for c in config_cases() if c[0].split(":", 1)[1] in LATER_CONFIGS]
        cases, path = record(later), CONFIGS_RECORDING
    else:
        cases, path = record(registry_cases() + config_cases()), RECORDING
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(cases, path)
    print(f"{len(cases)} cases -> {path.relative_to(ROOT)}")
