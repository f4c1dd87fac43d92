"""The MD speed benchmark runs (regconv side; MACE is a benchmark-only extra) and reports JSON."""

import json

from regconv.bench.md_speed import main


def test_md_speed_reports_steps_per_second(capsys):
    assert main(["--models", "schnet:hidden=8,layers=1,num_rbf=4", "--molecule", "ethanol",
                 "--steps", "3", "--warmup", "1", "--threads", "1"]) == 0  # fmt: skip
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    rec = lines[0]
    assert rec["atoms"] == 9 and rec["steps"] == 3 and rec["steps_per_s"] > 0
    assert rec["parameters"] > 0 and rec["kind"] == "regconv"
