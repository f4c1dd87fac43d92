"""The kernel-basis and kernel-table components of the fibre models: what they build, and specs."""

import pytest
import torch

from regconv.kernels import BasisSpec, KernelBasis, TableSpec, build_basis, build_table
from regconv.kernels.basis_spec import FULL_GRAPH_REACH


def test_basis_spec_builds_the_spatial_and_fibre_bases():
    spec = BasisSpec(dim=12, degree=2, radial=5, length_scale=2.0)
    spatial = spec.spatial(3, 2, cutoff=4.0)
    assert isinstance(spatial, KernelBasis) and spatial.out_dim == 12
    assert spatial.radial.out_dim == 5 and spatial.radial_dims == 2
    # the distance Gaussians span the reach of the graph in invariant units: cutoff / length_scale
    assert float(spatial.radial.centres.max()) == pytest.approx(2.0)
    full = spec.spatial(2, 2, cutoff=None)
    assert float(full.radial.centres.max()) == pytest.approx(FULL_GRAPH_REACH / 2.0)
    fibre = spec.fibre(1)
    assert fibre.radial is None and fibre.out_dim == 12
    assert fibre(torch.zeros(4, 4, 1)).shape == (4, 4, 12)


def test_specs_from_mappings_and_defaults():
    assert build_basis(None) == BasisSpec() == build_basis({"kind": "polynomial"})
    assert build_basis({"dim": 8}) == BasisSpec(dim=8)
    assert build_table(None) is None
    assert build_table({"step": 0.2}) == TableSpec(0.2, "linear")
    table = TableSpec(0.1, "quadratic")
    assert build_table(table) is table and table.smooth and not TableSpec(0.1).smooth


@pytest.mark.parametrize(
    ("spec", "match"),
    [({"kind": "bessel"}, "basis: unknown kind 'bessel'"), ({"dim": 1.5}, "basis.dim"),
     ({"degree": 0}, "basis.degree"), ({"length_scale": -1.0}, "basis.length_scale"),
     ({"width": 3}, r"basis \(polynomial\).*width"), (3, "basis must be a BasisSpec")],
)  # fmt: skip
def test_bad_basis_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        build_basis(spec)


@pytest.mark.parametrize(
    ("spec", "match"),
    [({"order": "cubic"}, r"table \(grid\).*step"), ({"step": 0.0}, "table.step"),
     ({"step": True}, "table.step"), ({"step": 0.1, "order": "spline"}, "table.order")],
)  # fmt: skip
def test_bad_table_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        build_table(spec)


def test_table_spec_tabulates_in_the_units_of_pos():
    # a basis linear in the invariant is reproduced exactly; the step is divided by length_scale
    src, dst = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 0])
    inv = torch.tensor([[[0.13]], [[0.52]], [[0.91]]], dtype=torch.float64)
    tab = TableSpec(0.5).tabulate(lambda a: 2.0 * a, inv, src, dst, None, length_scale=5.0)
    assert tab.step == pytest.approx(0.1)
    torch.testing.assert_close(tab.dense(), 2.0 * inv)
