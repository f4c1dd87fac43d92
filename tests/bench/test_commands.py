"""The installed benchmarks' one dispatcher (:mod:`regconv.bench.commands`): ``regconv bench
NAME`` and ``python -m regconv.bench NAME`` reach the same ``main``; the research harnesses are
not installed (``python -m benchmarks``, tests/benchmarks)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from regconv.bench.commands import COMMANDS
from regconv.bench.commands import main as bench_main
from regconv.cli.main import main as regconv_main


def test_regconv_bench_help_lists_the_installed_benchmarks(capsys):
    assert regconv_main(["bench", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS) and "python -m benchmarks" in out
    assert regconv_main(["bench"]) == 2


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_installed_benchmark_has_its_help(name, capsys):
    assert regconv_main(["bench", name, "--help"]) == 0
    assert f"usage: regconv bench {name}" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["nope", "budget", "scaling", "md-checks"])
def test_harnesses_and_unknown_names_are_usage_errors(name, capsys):
    assert regconv_main(["bench", name]) == 2
    err = capsys.readouterr().err
    assert f"unknown benchmark {name!r}" in err and "throughput" in err


def test_python_m_regconv_bench_is_the_same_dispatcher(capsys):
    with pytest.raises(SystemExit) as e:
        bench_main(["grid_error", "--help"], prog="python -m regconv.bench")
    assert e.value.code == 0
    assert "usage: python -m regconv.bench grid-error" in capsys.readouterr().out


@pytest.mark.slow
def test_python_m_regconv_bench_in_a_new_process():
    proc = subprocess.run(
        [sys.executable, "-m", "regconv.bench", "throughput", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m regconv.bench throughput" in proc.stdout
