"""The benchmark suite: models of specs, load sampling, fits, PyG references, an end-to-end run."""

import json

import pytest
import torch

from regconv.bench import cpu_sampler, machine_info
from regconv.bench.flops import count_flops, training_step_flops
from regconv.bench.references import create_reference, pyg_triplets
from regconv.bench.scaling import fit_exponent, random_cloud
from regconv.bench.throughput import build_model
from regconv.graph import radius_graph
from regconv.testing import random_molecules


def test_build_model_applies_the_ponita_config_where_accepted():
    model, options = build_model("r3s2:hidden=8,basis_dim=8,layers=1")
    assert (
        options["num_orientations"] == 16 and options["cutoff"] is None and options["hidden"] == 8
    )
    _, options = build_model("r3:hidden=8,basis_dim=8,layers=1")
    assert "num_orientations" not in options
    model, options = build_model("r3s2:hidden=8,basis_dim=8,layers=1,unfused=1")
    assert options["unfused"] and not model.blocks[0].fused and not model.blocks[0].conv.fused


def test_cpu_sampler_and_machine_info():
    with cpu_sampler() as load:
        sum(i * i for i in range(20000))
    assert load["wall_s"] >= 0 and 0.0 <= load.get("cpu_busy_fraction", 0.0) <= 1.0
    info = machine_info()
    assert info["torch_threads"] == torch.get_num_threads() and info["date"]
    import regconv

    assert info["regconv"] == regconv.__version__  # the release whose defaults a spec takes


def test_fit_exponent():
    sizes = [1e3, 1e4, 1e5]
    assert fit_exponent(sizes, [2 * s**1.02 for s in sizes]) == pytest.approx(1.02)
    assert fit_exponent([1e3], [1.0]) is None


def test_random_cloud_density():
    cloud = random_cloud(2000, 0.05)
    side = float(cloud.pos.max() - cloud.pos.min())
    assert cloud.pos.shape == (2000, 3) and 2000 / side**3 == pytest.approx(0.05, rel=0.05)


def test_pyg_triplets_follow_pyg_conventions():
    batch = random_molecules(3, seed=30, dtype=torch.float32)
    edge_index = radius_graph(batch.pos, 2.5, batch.batch)
    col, row, i, j, k, kj, ji = pyg_triplets(edge_index, batch.pos.shape[0])
    assert torch.equal(col, edge_index[1]) and torch.equal(row, edge_index[0])
    expected = []
    src, dst = edge_index.tolist()
    for e in range(len(src)):  # edge ji = (j -> i), then every edge kj = (k -> j) with k != i, by k
        for e2 in range(len(src)):
            if dst[e2] == src[e] and src[e2] != dst[e]:
                expected.append((dst[e], src[e], src[e2], e2, e))
    assert (
        list(zip(i.tolist(), j.tolist(), k.tolist(), kj.tolist(), ji.tolist(), strict=True))
        == expected
    )


@pytest.mark.parametrize("name", ["schnet-pyg", "dimenet++-pyg"])
def test_pyg_references_run_on_our_batches(name):
    batch = random_molecules(2, seed=31, dtype=torch.float32)
    out = create_reference(name)(batch)
    assert out.shape == (2, 1) and torch.isfinite(out).all()


def test_flop_counts_see_custom_autograd_functions():
    model, _ = build_model("r3s2:hidden=8,basis_dim=8,layers=1,num_orientations=4")
    batch = random_molecules(2, seed=32, dtype=torch.float32)
    f = training_step_flops(model, batch)
    assert f["forward_backward"] > 2 * f["forward"] > 0
    assert count_flops(lambda: torch.ones(4, 5) @ torch.ones(5, 6))["total"] == 2 * 4 * 5 * 6


@pytest.mark.slow
def test_throughput_cli_end_to_end(capsys):
    from regconv.bench.__main__ import main

    main(
        [
            "throughput",
            "--models",
            "r3s2:hidden=8,basis_dim=8,layers=1,num_orientations=4,table_step=0.2",
            "schnet-pyg",
            "--subset",
            "16",
            "--batch-size",
            "8",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--no-memory",
        ]
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    kinds = [(r["bench"], r.get("mode")) for r in lines]
    assert (
        ("matmul_peak", None) in kinds
        and ("throughput", "train") in kinds
        and ("throughput", "infer") in kinds
    )
    train = [r for r in lines if r.get("mode") == "train"]
    assert all(r["molecules_per_s"] > 0 and r["matmul_flops_per_molecule"] > 0 for r in train)
    assert all("machine" in r and "others_cpu_fraction" in r for r in train)


def test_profile_step_reports_ops_regions_and_a_summary(capsys):
    from regconv.bench.__main__ import main

    spec = "r3s2:hidden=8,basis_dim=8,layers=1,num_orientations=4,table_step=0.2"
    argv = ["profile-step", "--model", spec, "--subset", "16", "--batch-size", "8",
            "--steps", "1", "--warmup", "1", "--threads", "1", "--rows", "5"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    ops = [r for r in lines if r["bench"] == "profile_op"]
    assert len(ops) == 5 and all(r["self_ms_per_step"] >= 0 and 0 <= r["share"] <= 1 for r in ops)
    regions = {r["region"] for r in lines if r["bench"] == "profile_region"}
    assert "_TableMessageSum" in regions and "_LayerNormMLP" in regions
    (summary,) = [r for r in lines if r["bench"] == "profile_summary"]
    assert summary["unprofiled_s_per_step"] > 0 and summary["model"] == spec
    with pytest.raises(ValueError, match="steps"):
        main(argv[:-1] + ["0"])
