"""benchmarks.neighbours: the periodic neighbour-list timing against ASE's, run small."""

from __future__ import annotations

import json

from benchmarks.neighbours import main


def test_it_times_both_lists_and_they_agree(capsys):
    assert main(["--sizes", "60", "120", "--repeats", "1", "--cutoff", "4.0"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    rows, fit = lines[:-1], lines[-1]
    assert [r["atoms"] for r in rows] == [60, 120]
    assert all(r["edges"] == r["ase_edges"] > 0 and r["regconv_s"] > 0 for r in rows)
    assert fit["bench"] == "neighbours_scaling" and "ase_exponent" in fit
