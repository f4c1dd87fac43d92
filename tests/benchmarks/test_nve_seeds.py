"""``python -m benchmarks nve-seeds``: drift statistics over velocity seeds and the permutation
test between models."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks.nve_seeds import main, permutation_p, read_run


def _run(folder, drifts_by_temperature, dtype="float32"):
    folder.mkdir(parents=True)
    lines = [
        json.dumps({"check": "nve", "start_temperature_K": t, "drift_meV_per_atom_ps": d,
                    "max_excursion_meV_per_atom": 0.3, "steps_per_s": 50.0, "dtype": dtype})
        for t, d in drifts_by_temperature.items()
    ]  # fmt: skip
    (folder / "results.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_permutation_p_counts_the_splits_exactly():
    # 1, 2, 3 against 4, 5, 6: of the 20 splits into threes only the two extreme ones differ by 3
    assert permutation_p(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])) == pytest.approx(0.1)
    # equal groups: every split differs at least as much as they do
    assert permutation_p(np.array([1.0, 2.0]), np.array([2.0, 1.0])) == 1.0


def test_permutation_p_samples_many_splits_reproducibly(monkeypatch):
    import benchmarks.nve_seeds as mod

    monkeypatch.setattr(mod, "EXACT_SPLITS", 10)
    monkeypatch.setattr(mod, "RANDOM_SPLITS", 4000)
    a, b = np.arange(6.0), np.arange(6.0) + 10.0
    p = permutation_p(a, b)
    assert p == permutation_p(a, b)  # a fixed seed
    assert p == pytest.approx(2 / math.comb(12, 6), abs=2e-3)  # only the two extreme splits


def test_summary_and_comparison(tmp_path, capsys):
    a = [_run(tmp_path / f"a{k}", {300.0: 9.0, 500.0: d}) for k, d in enumerate([0.1, -0.1, 0.3])]
    b = [_run(tmp_path / f"b{k}", {500.0: d}) for k, d in enumerate([0.2, 0.4])]
    out = tmp_path / "sum" / "nve.json"
    argv = ["--group", "A", *map(str, a), "--group", "B", *map(str, b), "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "| A (float32) | 3 | +0.1000 ± 0.1155 | 0.2000 | 0.1667 |" in text
    summary = json.loads(out.read_text())
    ga, gb = summary["groups"]
    assert ga["drift_meV_per_atom_ps"] == [0.1, -0.1, 0.3]  # the 500 K lines only
    assert gb["mean"] == pytest.approx(0.3) and gb["mean_abs"] == pytest.approx(0.3)
    (cmp,) = summary["comparisons"]
    assert cmp["groups"] == ["A", "B"]
    assert cmp["mean_difference"] == pytest.approx(-0.2)
    assert cmp["mean_abs_ratio"] == pytest.approx(0.1667 / 0.3, rel=1e-3)
    assert 0.0 < cmp["mean_p"] <= 1.0 and 0.0 < cmp["mean_abs_p"] <= 1.0


def test_a_group_of_one_run_has_no_spread_and_the_json_stays_strict(tmp_path, capsys):
    a = [_run(tmp_path / f"a{k}", {500.0: d}) for k, d in enumerate([0.1, 0.3])]
    b = [_run(tmp_path / "b0", {500.0: -0.2})]
    out = tmp_path / "nve.json"
    argv = ["--group", "A", *map(str, a), "--group", "B", *map(str, b), "--out", str(out)]
    assert main(argv) == 0
    assert "| B (float32) | 1 | -0.2000 ± — | — | 0.2000 |" in capsys.readouterr().out
    text = out.read_text()
    assert "NaN" not in text  # strict JSON: other readers reject NaN
    gb = json.loads(text)["groups"][1]
    assert gb["n"] == 1 and gb["sd"] is None and gb["se"] is None


def test_bad_folders_name_the_problem(tmp_path, capsys):
    with pytest.raises(ValueError, match="no such file"):
        read_run(tmp_path / "missing", 500.0)
    only300 = _run(tmp_path / "r", {300.0: 0.1})
    with pytest.raises(ValueError, match="0 nve runs from 500 K"):
        read_run(only300, 500.0)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.jsonl").write_text('{"check": "nve"}\n{oops\n')
    with pytest.raises(ValueError, match=r"results.jsonl, line 2: not JSON"):
        read_run(bad, 500.0)
    assert main(["--group", "A", str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--group", "A"])  # a name without folders


def _trace(folder, atoms, slope, noise, seed, temperature=500.0, rows=2001):
    """An md-check trace of ``atoms`` atoms: total energy drifting by ``slope`` meV/atom/ps with
    white noise of s.d. ``noise`` meV/atom."""
    from benchmarks.nve_seeds import KB_EV

    gen = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, rows)
    temp = temperature + 20.0 * np.sin(t)
    e_kin = 1.5 * atoms * KB_EV * temp
    e_tot = -1000.0 + atoms * (slope * t + noise * gen.standard_normal(rows)) / 1000.0
    rows_ = np.stack([t, temp, e_tot - e_kin, e_tot], axis=1)
    np.savetxt(folder / f"nve-{temperature:g}K.csv", rows_, delimiter=",",
               header="t_ps,temperature_K,epot_eV,etot_eV", comments="")  # fmt: skip


def test_traces_give_the_fluctuation_and_the_drift_it_alone_explains(tmp_path, capsys):
    from benchmarks.nve_seeds import trace_stats

    runs = []
    for k in range(8):
        folder = _run(tmp_path / f"r{k}", {500.0: 0.0})
        _trace(folder, atoms=21, slope=0.0, noise=0.07, seed=k)
        runs.append(folder)
    stats = [trace_stats(f / "nve-500K.csv") for f in runs]
    assert {s["atoms"] for s in stats} == {21}
    for s in stats:
        assert s["fluctuation_meV_per_atom"] == pytest.approx(0.07, rel=0.1)
    # white noise of s.d. 0.07 over 2001 samples: slope s.e. 0.07 sqrt(12 / 2001) / 10 = 5.4e-4
    se = np.sqrt(np.mean([s["drift_se_meV_per_atom_ps"] ** 2 for s in stats]))
    assert se == pytest.approx(0.07 * math.sqrt(12 / 2001) / 10, rel=0.5)
    assert main(["--group", "A", *map(str, runs)]) == 0
    assert "| 0.070 | 0.0005 |" in capsys.readouterr().out  # fluctuation and drift from it
    # a trace whose kinetic energy does not match one atom count for every sample
    bad = tmp_path / "bad"
    bad.mkdir()
    _trace(bad, atoms=21, slope=0.0, noise=0.07, seed=0)
    text = (bad / "nve-500K.csv").read_text().splitlines()
    fields = text[5].split(",")
    fields[2] = str(float(fields[2]) - 1.0)  # 1 eV moved from kinetic to potential
    text[5] = ",".join(fields)
    (bad / "nve-500K.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match="no one atom count"):
        trace_stats(bad / "nve-500K.csv")
    (bad / "nve-500K.csv").write_text("t_ps,temperature_K,epot_eV,etot_eV\n0,1,2\n")
    with pytest.raises(ValueError, match="nve-500K.csv"):
        trace_stats(bad / "nve-500K.csv")
