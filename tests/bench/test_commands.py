"""The benchmarks' command lines: ``regconv bench NAME``, ``python -m regconv.bench NAME`` and
``python -m regconv.bench.budget`` reach the same ``main``; usage errors are argparse's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from regconv.bench.__main__ import main as bench_main
from regconv.cli.main import main as regconv_main

BUDGET = ["--minutes", "1", "--train-size", "64"]


def test_regconv_bench_help(capsys):
    assert regconv_main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert "throughput" in out and "budget" in out


def test_regconv_bench_budget_help(capsys):
    assert regconv_main(["bench", "budget", "--help"]) == 0
    assert "usage: regconv bench budget" in capsys.readouterr().out


def test_python_m_regconv_bench_forwards_budget(capsys):
    with pytest.raises(SystemExit) as e:
        bench_main(["budget", "--help"])
    assert e.value.code == 0 and "--train-size" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--minutes", "0"], "--minutes must be"),
        (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
        (["--jobs", "0"], "--jobs must be"),
        (["--threads", "0"], "--threads must be"),
        (["--target", "nope"], "unknown --target"),
        (["--models", "r3:hidden=8,hidden=9"], "twice"),
        (["--models", ":hidden=8"], "no name"),
        (["--warmup-fraction", "1"], "--warmup-fraction"),
    ],
)
def test_budget_usage_errors(extra, message, capsys):
    assert regconv_main(["bench", "budget", *BUDGET, *extra]) == 2
    err = capsys.readouterr().err
    assert "usage: regconv bench budget" in err and message in err


def test_unknown_benchmark_is_a_usage_error(capsys):
    assert regconv_main(["bench", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_regconv_bench_budget_in_a_new_process():
    for module in (["regconv.bench", "budget"], ["regconv.bench.budget"]):
        proc = subprocess.run(
            [sys.executable, "-m", *module, "--help"], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        assert "usage: regconv bench budget" in proc.stdout
