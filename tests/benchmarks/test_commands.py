"""The one dispatcher of the research harnesses (``python -m benchmarks NAME``), and every
benchmark command shown in README.md, BENCHMARKS.md and docs/*.md: it names an existing harness or
installed benchmark, and its options parse (the harness stops right after parsing them; a
synopsis's optional ``[--option value]`` is parsed as given, of alternatives ``a|b`` the first)."""

from __future__ import annotations

import argparse
import importlib
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import HARNESSES
from benchmarks.__main__ import main as benchmarks_main
from regconv import models
from regconv.bench.commands import COMMANDS
from regconv.bench.commands import main as regconv_bench_main
from regconv.cli.main import main as regconv_main

ROOT = Path(__file__).resolve().parents[2]
DOCS = (
    "README.md",
    "BENCHMARKS.md",
    *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md")),
)
#: Placeholders of the shown commands, with a value of the kind they stand for
PLACEHOLDERS = {"K": "0"}  # "--seed K ...   # K = 0, 1, 2"

#: How a shown command starts -> (its words, the function that runs the rest of it)
ENTRY_POINTS = {
    "python -m benchmarks": benchmarks_main,
    "regconv bench": lambda argv: regconv_main(["bench", *argv]),
    "python -m regconv.bench": lambda argv: regconv_bench_main(
        argv, prog="python -m regconv.bench"
    ),
    "regconv md-check": lambda argv: regconv_main(["md-check", *argv]),
}


def _entry(words: list[str]) -> tuple[str, list[str]] | None:
    """The entry point a command's words start with, and the rest of the words."""
    for start in ENTRY_POINTS:
        n = len(start.split())
        if words[:n] == start.split():
            return start, words[n:]
    return None


def _synopsis_word(word: str) -> str:
    """A word of a synopsis as given on a command line: ``[--option`` and ``value]`` without
    their brackets, of alternatives ``a|b`` the first."""
    word = word.removeprefix("[").removesuffix("]")
    return word.split("|")[0] if re.fullmatch(r"[\w.+-]+(\|[\w.+-]+)+", word) else word


def shown_commands() -> list[tuple[str, str, list[str]]]:
    """``(doc, entry point, argv)`` of every command in the docs' code blocks."""
    found = []
    for doc in DOCS:
        for block in re.findall(r"```[a-z]*\n(.*?)```", (ROOT / doc).read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                if not re.search(
                    r"python -m (benchmarks|regconv\.bench)|regconv (bench|md-)", line
                ):
                    continue  # not a command of these (code, output, other commands)
                words = shlex.split(line, comments=True)
                while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value prefixes
                    words = words[1:]
                hit = _entry([_synopsis_word(PLACEHOLDERS.get(w, w)) for w in words])
                if hit is not None and hit[1][:1] != ["NAME"]:  # `regconv bench NAME`: a synopsis
                    found.append((doc, *hit))
    return found


def mentioned_names() -> list[tuple[str, str, str]]:
    """``(doc, entry point, name)`` of every command mentioned in the docs' inline code."""
    found = []
    for doc in DOCS:
        text = re.sub(r"```.*?```", "", (ROOT / doc).read_text(), flags=re.S)  # code blocks
        for span in re.findall(r"`([^`]+)`", text):
            hit = _entry(span.split())
            if hit is not None and hit[1]:
                found.append((doc, hit[0], hit[1][0]))
    return found


class _Parsed(Exception):
    """Raised instead of running a harness once its command line has parsed."""


@pytest.fixture
def parse_only(monkeypatch):
    parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        parse_args(self, args, namespace)
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)


def test_the_docs_show_commands_of_every_kind():
    kinds = {entry for _, entry, _ in shown_commands()}
    assert {"python -m benchmarks", "python -m regconv.bench", "regconv md-check"} <= kinds
    assert len(shown_commands()) > 40


@pytest.mark.parametrize(
    ("doc", "entry", "argv"), shown_commands(), ids=lambda x: x if isinstance(x, str) else None
)
def test_every_shown_command_parses(doc, entry, argv, parse_only, capsys):
    with pytest.raises(_Parsed):
        ENTRY_POINTS[entry](argv)
    assert "error" not in capsys.readouterr().err


@pytest.mark.parametrize(("doc", "entry", "name"), mentioned_names())
def test_every_mentioned_command_exists(doc, entry, name):
    names = {
        "python -m benchmarks": HARNESSES,
        "regconv bench": COMMANDS,
        "python -m regconv.bench": COMMANDS,
        "regconv md-check": ("nve", "stability", "nve|stability"),
    }[entry]
    assert name in (*names, "NAME", "--help"), f"{doc}: `{entry} {name}` is not a command"


def _parsed(monkeypatch, entry: str, argv: list[str]) -> argparse.Namespace:
    """The options of a command as its harness parses them (it stops right after)."""
    seen = []
    parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        seen.append(parse_args(self, args, namespace))
        raise _Parsed

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    with pytest.raises(_Parsed):
        ENTRY_POINTS[entry](argv)
    monkeypatch.undo()
    return seen[-1]


def _tables(specs: list[str]) -> list:
    """The kernel table (None: the exact kernel) of each ``r3s2`` spec in ``specs``."""
    from regconv.bench.specs import parse_spec

    tables = []
    for spec in specs:
        name, overrides = parse_spec(spec)
        if name == "r3s2":
            options = {k: v for k, v in overrides.items() if k not in ("max_points", "unfused")}
            model = models.create("r3s2", **{"hidden": 8, "layers": 1, **options})
            tables.append(model.table)
    return tables


def test_the_suites_compare_the_exact_kernel_with_the_table(monkeypatch):
    # r3s2 is tabulated by default (since release 0.2): `r3s2` against `r3s2:table.step=0.1`
    # would compare the same model twice; the defaults and docs/performance.md's suite name
    # the exact kernel `table=None` beside the table
    lists = [_parsed(monkeypatch, "python -m benchmarks", [name]).models
             for name in ("throughput", "flops", "scaling")]  # fmt: skip
    lists += [
        _parsed(monkeypatch, entry, argv).models
        for doc, entry, argv in shown_commands()
        if doc == "docs/performance.md" and "--models" in argv
    ]
    assert len(lists) >= 7
    for specs in lists:
        tables = _tables(specs)
        assert None in tables and any(t is not None for t in tables), specs
        assert len(set(map(repr, tables))) == len(tables), specs


def test_every_harness_imports_and_has_its_help(capsys):
    for name, (target, _) in HARNESSES.items():
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), name
        assert benchmarks_main([name, "--help"]) == 0, name
        assert f"python -m benchmarks {name}" in capsys.readouterr().out, name


def test_help_and_unknown_names(capsys):
    assert benchmarks_main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in HARNESSES)
    assert benchmarks_main([]) == 2
    assert benchmarks_main(["grid-error"]) == 2  # installed: regconv bench grid-error
    assert "unknown harness 'grid-error'" in capsys.readouterr().err
    assert benchmarks_main(["budget", "--minutes", "0", "--train-size", "64"]) == 2
    assert "--minutes must be" in capsys.readouterr().err


def test_python_m_benchmarks_in_a_new_process(tmp_path):
    # from another folder: a harness finds the repository root on PYTHONPATH only
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "budget", "--help"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m benchmarks budget" in proc.stdout
