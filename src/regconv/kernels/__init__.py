"""Kernels: what a group convolution's kernel is made of, between the spaces and the layers.

- kernel bases of the pair invariants (:class:`KernelBasis`, :class:`PolynomialFeatures`) and
  the basis component of the fibre models (:class:`BasisSpec`);
- radial bases of distances (:class:`GaussianRBF`, :class:`BesselRBF`), the angular basis of a
  bond angle (:class:`LegendreBasis`) and of a torsion (:class:`TorsionBasis`);
- cutoff envelopes (:class:`CosineCutoff`, :class:`TaperedCosineCutoff`) and the envelope
  component of the models with a cutoff (:func:`build_envelope`);
- tabulation of a kernel basis on a grid of invariants (:func:`tabulate`,
  :class:`TabulatedBasis`) and the table component (:class:`TableSpec`);
- pair features: extra kernel inputs computed from a pair's geometry (:mod:`.pair_features`).
"""

from regconv.kernels.angular import LegendreBasis
from regconv.kernels.basis import KernelBasis, PolynomialFeatures
from regconv.kernels.basis_spec import BASES, BasisSpec, build_basis
from regconv.kernels.envelope import (
    ENVELOPES,
    CosineCutoff,
    Envelope,
    TaperedCosineCutoff,
    build_envelope,
)
from regconv.kernels.radial import BesselRBF, GaussianRBF
from regconv.kernels.table import TabulatedBasis, tabulate
from regconv.kernels.table_spec import TABLES, TableSpec, build_table
from regconv.kernels.torsion import TorsionBasis

__all__ = [
    "BASES",
    "BasisSpec",
    "BesselRBF",
    "CosineCutoff",
    "ENVELOPES",
    "Envelope",
    "GaussianRBF",
    "KernelBasis",
    "LegendreBasis",
    "PolynomialFeatures",
    "TABLES",
    "TableSpec",
    "TaperedCosineCutoff",
    "TabulatedBasis",
    "TorsionBasis",
    "build_basis",
    "build_envelope",
    "build_table",
    "tabulate",
]
