"""benchmarks.mace_md: batched MACE forces equal MACE's own calculator per molecule (of two
sizes in one batch), and the md-check runs of a MACE model write their records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ase import Atoms
from benchmarks.mace_md import MaceForces, main

POS = np.array([[0.0, 0, 0], [1.45, 0.1, 0], [0.7, 1.3, 0.05], [0.75, 0.4, 1.25]])


@pytest.fixture(scope="module")
def mace_model():
    import torch
    from mace import modules

    # after mace, which allows the pickled globals e3nn 0.4.4 loads under torch 2.13
    o3 = __import__("e3nn.o3", fromlist=["Irreps"])
    torch.manual_seed(0)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    return modules.MACE(
        r_max=4.0, num_bessel=4, num_polynomial_cutoff=5, max_ell=1, interaction_cls=block,
        interaction_cls_first=block, num_interactions=1, num_elements=2,
        hidden_irreps=o3.Irreps("8x0e+8x1o"), MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=np.zeros(2), avg_num_neighbors=3.0, atomic_numbers=[1, 6],
        correlation=2, gate=torch.nn.functional.silu,
    ).double()  # fmt: skip


def test_mace_forces_are_maces_calculator_per_molecule(mace_model):
    from mace.calculators import MACECalculator

    rng = np.random.default_rng(0)
    molecules = [([6, 1, 1, 6], POS + 0.1 * rng.standard_normal(POS.shape)),
                 ([6, 1, 6], POS[:3]), ([1, 6, 6, 6], POS)]  # fmt: skip
    energies, forces = MaceForces(mace_model, dtype="float64")(
        [np.array(z) for z, _ in molecules], [p for _, p in molecules]
    )
    calc = MACECalculator(models=mace_model, device="cpu", default_dtype="float64")
    assert forces.shape == (11, 3) and np.abs(forces).max() > 1e-6
    start = 0
    for r, (z, p) in enumerate(molecules):
        atoms = Atoms(numbers=z, positions=p)
        atoms.calc = calc
        np.testing.assert_allclose(forces[start : start + len(z)], atoms.get_forces(), atol=1e-10)
        assert energies[r] == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
        start += len(z)


def test_md_checks_of_a_mace_model_write_their_records(mace_model, tmp_path, capsys):
    import torch
    from ase.io import write

    model_path, mol = tmp_path / "m.model", tmp_path / "mol.xyz"
    torch.save(mace_model, model_path)
    write(mol, Atoms("CH2C", positions=POS))
    common = ["--mace-model", str(model_path), "--input", str(mol), "--ps", "0.005",
              "--every", "5", "--dtype", "float64", "--out", str(tmp_path / "o")]  # fmt: skip
    assert main(["nve", *common, "--temperatures", "300"]) == 0
    assert main(["stability", *common, "--runs", "2", "--temperature", "300"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["check"] for r in lines] == ["nve", "stability", "stability", "stability_summary"]
    assert lines[0]["steps"] == 10 and lines[0]["model"] == str(model_path)
    assert main(["nve", "--mace-model", str(tmp_path / "none.model"), *common[2:]]) == 1
    assert "no such MACE model file" in capsys.readouterr().err
