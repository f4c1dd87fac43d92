"""The one parser of model specs of every benchmark (:func:`regconv.bench.specs.parse_spec`)."""

from __future__ import annotations

import pytest
import torch

from regconv import models
from regconv.bench import throughput
from regconv.bench.specs import parse_spec
from regconv.testing import random_molecules


def test_names_and_literal_values():
    assert parse_spec("r3s2") == ("r3s2", {})
    assert parse_spec("r3s2:table.step=0.1,unfused=1,cutoff=None") == (
        "r3s2",
        {"table": {"step": 0.1}, "unfused": 1, "cutoff": None},
    )
    assert parse_spec("r3s2:space.num_orientations=16,block.kind=full,table=None") == (
        "r3s2",
        {"space": {"num_orientations": 16}, "block": {"kind": "full"}, "table": None},
    )
    assert parse_spec("egnn:update_coords=False,name='a b'") == (
        "egnn",
        {"update_coords": False, "name": "a b"},
    )


def test_dotted_keys_nest():
    assert parse_spec("r3s2:table.order=linear,space.num_orientations=8") == (
        "r3s2",
        {"table": {"order": "linear"}, "space": {"num_orientations": 8}},
    )
    assert parse_spec("r3s2: table . order = linear , table.step=0.2") == (
        "r3s2",
        {"table": {"order": "linear", "step": 0.2}},
    )
    assert parse_spec("mine:a.b.c=1,a.b.d=x,a.e=None") == (
        "mine",
        {"a": {"b": {"c": 1, "d": "x"}, "e": None}},
    )


def test_blanks_and_empty_items_are_ignored():
    assert parse_spec(" dimenet++-pyg ") == ("dimenet++-pyg", {})
    assert parse_spec("r3: hidden = 8 , layers=1,") == ("r3", {"hidden": 8, "layers": 1})
    assert parse_spec("r3:") == ("r3", {})
    assert parse_spec("r3:block.kind=") == ("r3", {"block": {"kind": ""}})


@pytest.mark.parametrize(
    "flat, today",
    [
        ("r3s2:table_order=cubic", {"table": {"order": "cubic"}}),
        ("r3s2:table_step=0.1", {"table": {"step": 0.1}}),
        ("r3s2:table_step=None", {"table": None}),
        ("r3s2:table_step=None,table_order=cubic", {"table": None}),
        (
            "r3s2:num_orientations=16,kernel=full,basis_dim=256,degree=3",
            {"space": {"num_orientations": 16}, "block": {"kind": "full"},
             "basis": {"dim": 256, "degree": 3}},
        ),
        (
            "r3s2:pooling=mean,readout_hidden=64,readout_all_layers=True,basis_radial=0",
            {"readout": {"pooling": "mean", "hidden": 64, "all_layers": True},
             "basis": {"radial": 0}},
        ),
        (
            "r3s2-attention:heads=2,widening=2,layer_scale=None,length_scale=1.0",
            {"block": {"heads": 2, "widening": 2, "layer_scale": None},
             "basis": {"length_scale": 1.0}},
        ),
        ("se3:group=icosahedral", {"space": {"group": "icosahedral"}}),
        ("r3s2:chiral=True,hidden=8", {"hidden": 8, "space": {"chiral": True}}),
        ("r3:table_order=cubic", {}),  # without a table step r3 never read the order
    ],
)  # fmt: skip
def test_flat_options_of_earlier_releases_are_translated(flat, today):
    name = flat.partition(":")[0]
    assert parse_spec(flat) == (name, today)


def test_flat_specs_build_the_model_they_built_before():
    # BENCHMARKS.md's historical spellings: the same model as today's spelling, same weights
    pairs = [
        ("r3s2:hidden=8,layers=1,num_orientations=4,table_order=cubic",
         "r3s2:hidden=8,layers=1,space.num_orientations=4,table.order=cubic"),
        ("r3s2:hidden=8,layers=1,table_step=None,basis_dim=8",
         "r3s2:hidden=8,layers=1,table=None,basis.dim=8"),
        ("r3s2:hidden=8,layers=1,table_step=None,kernel=full",
         "r3s2:hidden=8,layers=1,table=None,block.kind=full"),
    ]  # fmt: skip
    batch = random_molecules(num_graphs=2, seed=5, dtype=torch.float32)
    for old, new in pairs:
        built = []
        for spec in (old, new):
            name, options = parse_spec(spec)
            torch.manual_seed(0)
            built.append(models.create(name, **options).eval())
        (a, b) = built
        assert a.state_dict().keys() == b.state_dict().keys()
        assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
        with torch.no_grad():
            assert torch.equal(a(batch), b(batch)), old
    name, options = parse_spec("r3s2:table_order=cubic,hidden=8,layers=1")
    table = models.create(name, **options).table
    assert (table.step, table.order) == (0.1, "cubic")  # the order merges into r3s2's table


def test_harness_keys_and_flat_options_of_other_models_pass_through():
    # keys no model takes are the harnesses' own (throughput, scaling, pes-budget)
    assert parse_spec("r3s2:unfused=1,compile=1,max_points=30000,lr=0.005") == (
        "r3s2",
        {"unfused": 1, "compile": 1, "max_points": 30000, "lr": 0.005},
    )
    assert parse_spec("ponita-torch:path=/some/checkout,num_orientations=16") == (
        "ponita-torch",
        {"path": "/some/checkout", "num_orientations": 16},
    )
    # models that still take flat options keep them (SchNet's table, EdgeNet's basis)
    assert parse_spec("schnet:table_step=0.1,table_order=cubic,pooling=mean") == (
        "schnet",
        {"table_step": 0.1, "table_order": "cubic", "pooling": "mean"},
    )
    assert parse_spec("r3s2-edge:basis_dim=8,layer_scale=None") == (
        "r3s2-edge",
        {"basis_dim": 8, "layer_scale": None},
    )


@pytest.mark.parametrize(
    "spec, match",
    [
        ("r3s2:oops", "key=value"),
        ("r3s2:hidden=8,oops", "key=value"),
        ("r3s2:=3", "key=value"),
        (":hidden=8", "no name"),
        ("", "no name"),
        ("r3:hidden=8,hidden=16", "twice"),
        ("r3s2:table.step=0.1,table.step=0.2", "twice"),
        ("r3s2:table=None,table.order=linear", "given as a value"),
        ("r3s2:hidden=8,hidden.x=1", "given as a value"),
        ("r3s2:table.order=linear,table=None", "both as a value and by dotted keys"),
        ("r3s2:table..order=linear", "empty part"),
        ("r3s2:.order=linear", "empty part"),
        ("r3s2:table_step=0.1,table.order=linear", "mix the flat option table_step"),
        ("r3s2:conv_gain=2.0", "conv_gain"),
    ],
)
def test_malformed_specs_are_value_errors(spec, match):
    with pytest.raises(ValueError, match=match) as err:
        parse_spec(spec)
    assert repr(spec) in str(err.value)  # the message names the spec


def test_not_a_string():
    with pytest.raises(ValueError, match="string"):
        parse_spec(None)


def test_the_installed_benchmarks_use_the_one_parser():
    assert throughput.parse_spec is parse_spec
