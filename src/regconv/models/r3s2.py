r"""``r3s2``: regular group convolutions on R^3 x S^2 with a grid fibre (PONITA class).

:class:`regconv.models.FibreNet` on :class:`regconv.spaces.R3S2`: a shared grid of ``O``
orientations (Fibonacci), features ``[N, O, C]``, separable kernels (spatial on
``(n_o.x_ij, |x_ij ⊥ n_o|)``, then over the sphere on ``n_o.n_p``) or the full kernel on the
complete pair invariants (``block={"kind": "full"}``). Approximately invariant: the fibre sum
is a quadrature on S^2, exact for rotations that map the grid to itself (README: the error
against ``O``). Vectors lift as ``v.n_o`` and project back.

:data:`DEFAULTS`: full graphs; the spatial kernel read from a table at 0.1 Å (since release
0.2), quadratic B-spline (since 0.4: C¹, 9 nodes per row); 50 Gaussians of the pair distance
in the kernel basis (since 0.3; BENCHMARKS.md). The full kernel and pair features need the
exact kernel (``table=None``). :data:`QM9` (``r3s2-qm9``): the options chosen on validation
molecules for the QM9 main job (``configs/qm9_quick.yaml``; BENCHMARKS.md, "The main job").
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULTS", "QM9"]

#: ``r3s2``'s options that differ from :class:`regconv.models.FibreNet`'s defaults
DEFAULTS: dict[str, Any] = {
    "space": {"kind": "r3s2", "num_orientations": 16},
    "cutoff": None,
    "basis": {"radial": 50},
    "table": {"step": 0.1, "order": "quadratic"},
}

#: the QM9 main job's: small, 4 orientations, the linear table, mean pooling, a readout MLP
QM9: dict[str, Any] = {
    "space": {"kind": "r3s2", "num_orientations": 4},
    "hidden": 32,
    "layers": 3,
    "cutoff": 5.0,
    "basis": {"dim": 32, "radial": 50},
    "table": {"step": 0.1, "order": "linear"},
    "readout": {"pooling": "mean", "hidden": 64},
}
