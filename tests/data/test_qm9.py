"""QM9 content (units, atomisation energies, float64 discipline), the data set, the package
surface and ``python -m regconv.data``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import regconv.data.qm9 as qm9
from regconv.data import QM9, QM9_TARGETS, load_qm9_tensors, qm9_split_indices
from regconv.data.qm9 import constants
from regconv.data.qm9.source import targets_from_raw

HA = 27211.386246  # meV per Ha
REFS = qm9.ATOM_REFS_HA
ENERGY_COLUMNS = [
    "InternalEnergy_0K_au",
    "InternalEnergy_298K_au",
    "Enthalphy_298K_au",
    "GibbsFreeEnergy_298K_au",
]


def _atomisation_meV(row: dict, col: int) -> float:
    """Float64 reference computation from a raw CSV row."""
    elements = [e.strip("'") for e in row["Elements"].strip("[]").split(",")]
    ref = sum(REFS[e][col] for e in elements)
    return (float(row[ENERGY_COLUMNS[col]]) - ref) * HA


# ------------------------------------------------------------------------------------------------
# content
# ------------------------------------------------------------------------------------------------


def test_targets_table():
    assert QM9_TARGETS == [
        ("mu", "D"),
        ("alpha", "bohr^3"),
        ("homo", "meV"),
        ("lumo", "meV"),
        ("gap", "meV"),
        ("r2", "bohr^2"),
        ("zpve", "meV"),
        ("u0", "meV"),
        ("u", "meV"),
        ("h", "meV"),
        ("g", "meV"),
        ("cv", "cal/mol K"),
    ]
    assert qm9.HARTREE_TO_MEV == HA


def test_one_unit_table():
    """The task spec reads the data layer's table, in the column order of ``y``."""
    from regconv.training.spec import EXTENSIVE_QM9_TARGETS, QM9_UNITS, qm9_task

    assert QM9_UNITS is constants.QM9_UNITS and QM9_UNITS is qm9.QM9_UNITS
    assert list(QM9_UNITS.items()) == QM9_TARGETS
    assert EXTENSIVE_QM9_TARGETS is constants.EXTENSIVE_QM9_TARGETS
    assert EXTENSIVE_QM9_TARGETS == {"zpve", "u0", "u", "h", "g"}
    assert qm9_task("homo")["targets"][0]["unit"] == "meV"


def test_count_ids_and_gaps(data):
    assert data.num_molecules == 130_831
    ids = data.idx.numpy()
    assert ids[0] == 1 and ids[-1] == 133_885
    assert np.all(np.diff(ids) > 0)  # sorted, unique
    assert 133_885 - len(ids) == 3_054
    assert len(set(range(1, 133_886)) - set(ids.tolist())) == 3_054
    assert data.num_atoms == int(data.ptr[-1]) == 2_359_210
    assert set(torch.unique(data.z).tolist()) == {1, 6, 7, 8, 9}
    assert torch.isfinite(data.pos).all() and torch.isfinite(data.y).all()


def test_first_molecules_match_csv(data, raw_rows):
    _, _, rows, _ = raw_rows
    expect_z = {1: [6, 1, 1, 1, 1], 2: [7, 1, 1, 1], 3: [8, 1, 1]}
    for m, row in enumerate(rows):
        qid = m + 1
        assert int(row["Index"]) == qid == int(data.idx[m])
        a, b = int(data.ptr[m]), int(data.ptr[m + 1])
        assert data.z[a:b].tolist() == expect_z[qid]
        pos = np.array(json.loads(row["XYZ_Ang"]), dtype=np.float64)
        np.testing.assert_array_equal(data.pos[a:b].numpy(), pos.astype(np.float32))
        y = data.y[m].numpy()
        f = {k: float(v) for k, v in row.items() if k.endswith(("_au", "debye", "bohr3", "bohr2"))}
        expect = [
            f["Dipole_debye"],
            f["Polarizability_bohr3"],
            f["HOMO_au"] * HA,
            f["LUMO_au"] * HA,
            f["HOMO_LUMO_gap_au"] * HA,
            f["R2_bohr2"],
            f["ZPVE_au"] * HA,
            *(_atomisation_meV(row, c) for c in range(4)),
            float(row["Heatcapacity_Cv_cal_mol_K"]),
        ]
        np.testing.assert_array_equal(y, np.array(expect, dtype=np.float64).astype(np.float32))


def test_methane_values(data):
    y = data.y[0].double()
    assert data.idx[0] == 1
    assert y[2].item() == pytest.approx(-0.3877 * HA, abs=2e-3)  # -10549.87 meV
    assert -10549.9 < y[2].item() < -10549.8
    u0 = (-40.47893 - (REFS["C"][0] + 4 * REFS["H"][0])) * HA  # atomisation: about -17172 meV
    assert y[7].item() == pytest.approx(u0, abs=2e-3)
    assert -17173 < y[7].item() < -17171
    assert y[0].item() == 0.0 and y[11].item() == pytest.approx(6.469)


def test_float64_discipline_u0(data, raw_rows):
    """U0/U/H/G are subtracted in float64, only the result is cast: y is exactly the float32
    rounding of the float64 value, while a float32 pipeline would be off by more than 0.01 meV."""
    _, _, _, last = raw_rows
    assert int(last["Index"]) == 133_885 and int(data.idx[-1]) == 133_885
    for c in range(4):
        exact = _atomisation_meV(last, c)
        assert data.y[-1, 7 + c].item() == float(np.float32(exact))
    elements = [e.strip("'") for e in last["Elements"].strip("[]").split(",")]
    total32 = np.float32(float(last["InternalEnergy_0K_au"])) * np.float32(HA)
    ref32 = np.float32(sum(REFS[e][0] for e in elements)) * np.float32(HA)
    naive = float(total32 - ref32)
    assert abs(naive - _atomisation_meV(last, 0)) > 0.01  # the discipline matters here
    raw32 = np.zeros((1, 12), dtype=np.float32)
    with pytest.raises(ValueError, match="float64"):
        targets_from_raw(raw32, np.array([1], dtype=np.uint8), np.array([0, 1]))


def test_summary_statistics(data):
    y = data.y.double()
    # published QM9 statistics, loosely
    assert y[:, 7].mean().item() == pytest.approx(-76116.0, abs=1.0)
    assert y[:, 4].mean().item() == pytest.approx(6858.5, abs=1.0)
    assert y[:, 0].mean().item() == pytest.approx(2.673, abs=1e-3)


# ------------------------------------------------------------------------------------------------
# data set
# ------------------------------------------------------------------------------------------------


def test_dataset_items_and_loader(data):
    from torch_geometric.loader import DataLoader

    train = QM9("train")
    assert len(train) == 110_000 and train.data is data
    item = train[0]
    m = 112526
    assert set(item.keys()) == {"z", "pos", "y", "idx"}
    assert item.z.dtype == torch.long and item.pos.dtype == torch.float32
    assert item.y.shape == (1, 12) and item.y.dtype == torch.float32
    assert item.idx.tolist() == [int(data.idx[m])]
    assert torch.equal(item.y[0], data.y[m])
    # an item owns only its own atoms (cheap to save / send)
    assert item.pos.untyped_storage().nbytes() == item.num_nodes * 3 * 4
    assert train[-1].idx.item() == int(data.idx[qm9_split_indices("dimenet")["train"][-1]])
    with pytest.raises(IndexError):
        train[110_000]

    batch = next(iter(DataLoader(QM9("val", subset=8), batch_size=4, shuffle=False)))
    assert batch.num_graphs == 4 and batch.y.shape == (4, 12) and batch.idx.shape == (4,)
    ids = qm9_split_indices("dimenet")["val"][:4]
    assert batch.idx.tolist() == data.idx[torch.from_numpy(ids)].tolist()  # not shifted
    assert batch.pos.shape == (batch.z.shape[0], 3) and batch.batch.max().item() == 3

    allds = QM9("all", subset=3, targets=["homo", "u0"])
    assert len(allds) == 3 and allds.target_names == ["homo", "u0"]
    assert [allds[i].idx.item() for i in range(3)] == [1, 2, 3]
    assert torch.equal(allds[0].y, data.y[0:1, [2, 7]])
    assert len(QM9("test", scheme="cormorant")) == 13_083
    mean, std = QM9("train", subset=1000).target_mean_std()
    assert mean.shape == std.shape == (12,)
    assert len(QM9("val", subset=np.int64(5))) == 5  # NumPy integers are integers too


def test_dataset_bad_names():
    with pytest.raises(ValueError, match="train, val, test, all"):
        QM9("training")
    with pytest.raises(ValueError, match="dimenet, cormorant"):
        QM9("train", scheme="schnet")
    with pytest.raises(ValueError, match="dimenet, cormorant"):
        qm9_split_indices("random")
    with pytest.raises(ValueError, match="mu, alpha, homo"):
        QM9("train", targets=["U0"])
    with pytest.raises(ValueError, match="subset"):
        QM9("train", subset=0)
    with pytest.raises(ValueError, match="subset"):
        QM9("train", subset=True)


# ------------------------------------------------------------------------------------------------
# package surface and the summary command
# ------------------------------------------------------------------------------------------------


def test_missing_qm9pack(monkeypatch):
    from regconv.data.qm9 import source

    monkeypatch.setattr(source, "QM9PACK_MODULE", "qm9pack_not_installed_here")
    with pytest.raises(ImportError, match=r"pip install qm9pack==1\.0\.3"):
        load_qm9_tensors()


def test_qm9pack_not_imported(data):
    assert "qm9pack" not in sys.modules  # located by find_spec, never executed


def test_package_import_is_lazy():
    code = "import sys, regconv.data; assert 'regconv.data.qm9' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_constants_need_neither_numpy_nor_torch():
    code = (
        "import sys; from regconv.data.qm9.constants import QM9_UNITS; "
        "assert 'numpy' not in sys.modules and 'torch' not in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith(('numpy', 'torch')))[:5]"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_package_reexports():
    for name in qm9.__all__:
        assert getattr(qm9, name) is not None, name
    assert set(qm9.__all__) <= set(dir(qm9))
    with pytest.raises(AttributeError, match="no attribute"):
        qm9.not_a_name  # noqa: B018


def test_summary_command(data, capsys):
    from regconv.data.__main__ import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert "molecules: 130,831" in out and "3,054 gaps" in out
    assert "110,000 / 10,000 / 10,831" in out and "100,000 / 17,748 / 13,083" in out
    assert "u0" in out and "cal/mol K" in out and "load" in out
