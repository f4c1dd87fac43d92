"""The installed benchmarks: models of specs, load sampling, FLOP counts, an end-to-end run."""

import json

import pytest
import torch

from regconv.bench import cpu_sampler, machine_info
from regconv.bench.flops import count_flops, training_step_flops
from regconv.bench.throughput import build_model
from regconv.testing import random_molecules


def test_build_model_applies_the_ponita_config_where_accepted():
    # what the built models are, whatever form PONITA_CONFIG takes: 16 orientations, basis 256
    # of degree 3, full graphs, on every model where the option applies
    model, options = build_model("r3s2:hidden=8,layers=1")
    assert model.space.num_fibre == 16 and (model.basis.dim, model.basis.degree) == (256, 3)
    assert model.cutoff is None and options["hidden"] == 8
    assert model.table == build_model("r3s2", config="default")[0].table  # r3s2's own table
    model, _ = build_model("r3:hidden=8,layers=1")
    assert model.space.num_fibre == 1 and model.basis.dim == 256 and model.cutoff is None
    model, _ = build_model("r3s2-attention:hidden=8,layers=1")
    assert model.space.num_fibre == 16 and model.basis.dim == 256
    model, _ = build_model("se3:hidden=8,layers=1")
    assert model.space.num_fibre == 24 and model.basis.dim == 256  # its group, not 16
    model, options = build_model("r3s2-edge:hidden=8,layers=1")  # flat options
    assert options["basis_dim"] == 256 and options["degree"] == 3
    assert model.state_dict()["edge_basis.mlp.2.weight"].shape == (256, 256)
    model, _ = build_model("schnet:hidden=8,layers=1")
    assert model.cutoff is None
    # the spec's overrides merge into the config's components
    model, options = build_model("r3s2:hidden=8,layers=1,basis.dim=8,space.chiral=True")
    assert (model.basis.dim, model.basis.degree, model.space.num_fibre) == (8, 3, 16)
    assert options["space"] == {"num_orientations": 16, "chiral": True}
    model, _ = build_model("r3s2:hidden=8,layers=1,basis_dim=8,num_orientations=4")  # flat
    assert (model.basis.dim, model.space.num_fibre) == (8, 4)
    model, options = build_model("r3s2:hidden=8,basis.dim=8,layers=1,unfused=1")
    assert options["unfused"] and not model.blocks[0].fused and not model.blocks[0].conv.fused


def test_a_shared_config_applies_where_a_models_components_take_it():
    from regconv.bench import PONITA_CONFIG, ponita_config
    from regconv.bench.options import COMPONENTS, applicable, combine
    from regconv.kernels import build_basis, build_table
    from regconv.nn import build_block, build_readout

    config = {
        "hidden": 8,
        "space": {"num_orientations": 4, "group": "tetrahedral"},
        "block": {"layer_scale": None, "heads": 2},
        "readout": {"pooling": "mean"},
    }
    assert applicable("r3s2", config) == {
        "hidden": 8, "space": {"num_orientations": 4}, "block": {"layer_scale": None},
        "readout": {"pooling": "mean"},
    }  # fmt: skip
    assert applicable("se3", config)["space"] == {"group": "tetrahedral"}
    assert "space" not in applicable("r3", config)
    assert applicable("r3s2-attention", config)["block"] == {"layer_scale": None, "heads": 2}
    assert applicable("r3s2-edge", config) == {"hidden": 8, "layer_scale": None}
    assert applicable("schnet", config) == {"hidden": 8, "pooling": "mean"}
    assert applicable("r3", {"block": {"kind": "attention", "heads": 2}}) == {
        "block": {"kind": "attention", "heads": 2}
    }
    # the default kinds are the builders'
    for option, build, spec in (("basis", build_basis, {}), ("block", build_block, {}),
                                ("table", build_table, {"step": 0.1}),
                                ("readout", build_readout, {})):  # fmt: skip
        kinds, default = COMPONENTS[option]
        assert type(build(spec)) is kinds[default]
    # combining merges components and copies
    defaults = ponita_config()
    out = combine(defaults, {"basis": {"dim": 8}, "cutoff": 5.0})
    assert out["basis"] == {"dim": 8, "degree": 3} and out["cutoff"] == 5.0
    assert defaults == PONITA_CONFIG and defaults["basis"] is not PONITA_CONFIG["basis"]
    assert combine({"table": {"step": 0.1}}, {"table": None}) == {"table": None}


def test_cpu_sampler_and_machine_info():
    with cpu_sampler() as load:
        sum(i * i for i in range(20000))
    assert load["wall_s"] >= 0 and 0.0 <= load.get("cpu_busy_fraction", 0.0) <= 1.0
    info = machine_info()
    assert info["torch_threads"] == torch.get_num_threads() and info["date"]
    import regconv

    assert info["regconv"] == regconv.__version__  # the release whose defaults a spec takes


def test_reference_models_are_built_by_name_without_options():
    def build():
        return torch.nn.Linear(1, 1)

    model, options = build_model("mine", references={"mine": build})
    assert isinstance(model, torch.nn.Linear) and options == {}
    with pytest.raises(ValueError, match="takes no overrides"):
        build_model("mine:hidden=8", references={"mine": build})


def test_flop_counts_see_custom_autograd_functions():
    model, _ = build_model("r3s2:hidden=8,basis.dim=8,layers=1,space.num_orientations=4")
    batch = random_molecules(2, seed=32, dtype=torch.float32)
    f = training_step_flops(model, batch)
    assert f["forward_backward"] > 2 * f["forward"] > 0
    assert count_flops(lambda: torch.ones(4, 5) @ torch.ones(5, 6))["total"] == 2 * 4 * 5 * 6


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_throughput_cli_end_to_end(capsys, precision):
    from regconv.cli.main import main

    rc = main(
        [
            "bench",
            "throughput",
            "--models",
            "r3s2:hidden=8,basis.dim=8,layers=1,space.num_orientations=4,table.step=0.2",
            "schnet:hidden=8,layers=1",
            "--subset",
            "16",
            "--batch-size",
            "8",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--no-memory",
            "--precision",
            precision,
        ]
    )
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    dtype = {"fp32": "float32", "bf16": "bfloat16"}[precision]
    assert [r["dtype"] for r in lines if r["bench"] == "matmul_peak"] == [dtype]
    assert all(r["precision"] == precision for r in lines if r["bench"] == "throughput")
    kinds = [(r["bench"], r.get("mode")) for r in lines]
    assert (
        ("matmul_peak", None) in kinds
        and ("throughput", "train") in kinds
        and ("throughput", "infer") in kinds
    )
    train = [r for r in lines if r.get("mode") == "train"]
    assert all(r["molecules_per_s"] > 0 and r["matmul_flops_per_molecule"] > 0 for r in train)
    assert all("machine" in r and "others_cpu_fraction" in r for r in train)


def test_grid_error_builds_every_fibre_with_its_residual_branches_on(capsys):
    from regconv.bench.grid_error import main

    assert main(["--molecules", "2", "--rotations", "1", "--hidden", "4", "--layers", "1"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [r["model"] for r in rows] == ["r3s2"] * 5 + ["se3"] * 3 + ["r3", "r3s2-edge"]
    errors = {r["config"]: r["error_vs_mean_abs"] for r in rows}
    assert errors["R3 (exact)"] < 1e-12 and errors["R3S2 edge fibre (exact)"] < 1e-12
    assert errors["R3S2, O = 64"] < errors["R3S2, O = 4"]  # the grid sizes reach the space
    assert errors["SE3, icosahedral (60)"] < errors["SE3, tetrahedral (12)"]  # and the groups
