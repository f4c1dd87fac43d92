"""The MD speed benchmark runs (regconv side; MACE is a benchmark-only extra) and reports JSON."""

import json

from benchmarks.md_speed import main


def test_md_speed_reports_steps_per_second(capsys):
    assert main(["--models", "schnet:hidden=8,layers=1,num_rbf=4", "--molecule", "ethanol",
                 "--steps", "3", "--warmup", "1", "--threads", "1"]) == 0  # fmt: skip
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) == 1
    rec = lines[0]
    assert rec["atoms"] == 9 and rec["steps"] == 3 and rec["steps_per_s"] > 0
    assert rec["parameters"] > 0 and rec["kind"] == "regconv"


def test_mace_runs_beside_and_a_compiler_failure_is_a_record(capsys, monkeypatch):
    import benchmarks.md_speed as md_speed

    def broken(calc, atoms):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(md_speed, "compile_net", broken)
    assert main(["--models", "schnet:hidden=8,layers=1,num_rbf=4", "--molecule", "ethanol",
                 "--steps", "2", "--warmup", "1", "--threads", "1", "--compile",
                 "--mace", "8x0e"]) == 0  # fmt: skip
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [(r["kind"], r.get("compile", False)) for r in lines] == [
        ("regconv", False),
        ("regconv", True),
        ("mace", False),
    ]
    assert lines[1]["error"] == "RuntimeError: no compiler" and "steps_per_s" not in lines[1]
    assert lines[2]["steps"] == 2 and lines[2]["steps_per_s"] > 0 and lines[2]["parameters"] > 0
