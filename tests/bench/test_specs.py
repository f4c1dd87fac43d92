"""The one parser of model specs of every benchmark (:func:`regconv.bench.specs.parse_spec`)."""

from __future__ import annotations

import pytest

from regconv.bench import budget, scaling, throughput
from regconv.bench.specs import parse_spec


def test_names_and_literal_values():
    assert parse_spec("r3s2") == ("r3s2", {})
    assert parse_spec("r3s2:table_step=0.1,unfused=1,cutoff=None") == (
        "r3s2",
        {"table_step": 0.1, "unfused": 1, "cutoff": None},
    )
    assert parse_spec("r3s2:num_orientations=16,kernel=full") == (
        "r3s2",
        {"num_orientations": 16, "kernel": "full"},
    )
    assert parse_spec("egnn:update_coords=False,name='a b'") == (
        "egnn",
        {"update_coords": False, "name": "a b"},
    )


def test_blanks_and_empty_items_are_ignored():
    assert parse_spec(" dimenet++-pyg ") == ("dimenet++-pyg", {})
    assert parse_spec("r3: hidden = 8 , layers=1,") == ("r3", {"hidden": 8, "layers": 1})
    assert parse_spec("r3:") == ("r3", {})
    assert parse_spec("r3:kernel=") == ("r3", {"kernel": ""})


@pytest.mark.parametrize(
    "spec, match",
    [
        ("r3s2:oops", "key=value"),
        ("r3s2:hidden=8,oops", "key=value"),
        ("r3s2:=3", "key=value"),
        (":hidden=8", "no name"),
        ("", "no name"),
        ("r3:hidden=8,hidden=16", "twice"),
    ],
)
def test_malformed_specs_are_value_errors(spec, match):
    with pytest.raises(ValueError, match=match) as err:
        parse_spec(spec)
    assert repr(spec) in str(err.value)  # the message names the spec


def test_not_a_string():
    with pytest.raises(ValueError, match="string"):
        parse_spec(None)


def test_every_benchmark_uses_the_one_parser():
    assert throughput.parse_spec is parse_spec
    assert scaling.parse_spec is parse_spec
    assert budget.parse_spec is parse_spec
