"""``regconv fit`` with the shipped energy + force config on a user's rMD17-format file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from regconv.cli.main import main

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "md17_quick.yaml"


def write_harmonic_rmd17(path: Path, frames: int = 1010) -> None:
    """An rMD17-format ``.npz`` (kcal/mol, Å) of a 5-atom molecule on a harmonic pair
    potential."""
    rng = np.random.default_rng(0)
    base = np.array(
        [[0, 0, 0], [1.09, 0, 0], [-0.36, 1.03, 0], [-0.36, -0.51, 0.89], [-0.5, -0.5, -1]]
    )
    coords = base[None] + 0.05 * rng.standard_normal((frames, 5, 3))
    diff = coords[:, :, None] - coords[:, None]  # [F, N, N, 3]
    d = np.linalg.norm(diff, axis=-1)
    r0 = np.linalg.norm(base[:, None] - base[None], axis=-1)
    energies = 5.0 * ((d - r0) ** 2).sum((1, 2))
    grad = (20.0 * (d - r0) / np.where(d > 0, d, 1.0))[..., None] * diff
    np.savez(path, nuclear_charges=np.array([6, 1, 1, 1, 8]), coords=coords,
             energies=energies, forces=-grad.sum(2))  # fmt: skip


def test_md17_quick_fits_a_user_file_and_reports_energy_and_force_errors(tmp_path, capsys):
    data = tmp_path / "toy.npz"
    write_harmonic_rmd17(data)
    run = tmp_path / "run"
    code = main([
        "fit", "--config", str(CONFIG), "--data.init_args.path", str(data),
        "--data.init_args.scheme", "random", "--trainer.max_epochs", "1",
        "--trainer.enable_progress_bar", "false", "--trainer.check_val_every_n_epoch", "1",
        "--model.model_options.hidden", "16", "--run_dir", str(run),
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "energy" in out and "meV/Å" in out
    res = json.loads((run / "results.json").read_text())
    targets = res["test"]["targets"]
    assert set(targets) == {"energy", "forces"}
    assert targets["forces"]["unit"] == "meV/Å" and targets["energy"]["unit"] == "meV"
    assert res["test"]["count"] == 10  # 1,010 frames: 950 / 50 / 10
    # the test parity plot: the energies beside the force components (two panels in a row)
    png = (run / "plots" / "parity_test.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 1.7 * height
