"""The equivariance kit: transform a batch by a group element, run, compare.

One call checks rotations, reflections, translations and node permutations::

    from regconv.testing import assert_equivariant
    errors = assert_equivariant(model, batch, tol=1e-10)          # exact spaces, float64
    errors = assert_equivariant(model, batch, tol=0.05)           # grid fibres: approximate

Graph-level outputs ``[B, k]`` must be invariant; node-level vector outputs ``[N, k, 3]`` must
rotate with the input (``v -> Q v`` for every orthogonal ``Q``, reflections included) and be
unchanged by translations. Permutations reorder the nodes inside each graph, and node outputs are
un-permuted before comparison. The caller's batch is never modified. Batches are moved by
:func:`regconv.graph.transform_batch`, the transform training uses, with the same key list.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from regconv.geometry import random_reflection, random_rotation
from regconv.graph import transform_batch

__all__ = [
    "assert_equivariant",
    "equivariance_errors",
    "transform_batch",
    "within_graph_permutation",
]


def _num_nodes(batch) -> int:
    return int(batch.pos.shape[0])


def within_graph_permutation(batch_vector: Tensor, generator: torch.Generator) -> Tensor:
    """A random permutation of nodes that keeps every node in its graph (and ``batch`` sorted)."""
    n = batch_vector.shape[0]
    noise = torch.rand(n, generator=generator, dtype=torch.float64)
    key = batch_vector.to(torch.float64) * 2.0 + noise  # graphs first, random order inside
    return torch.argsort(key)


def _relative_error(a: Tensor, b: Tensor) -> float:
    scale = b.abs().max().clamp_min(1e-300)
    return float((a - b).abs().max() / scale)


def equivariance_errors(
    model: Callable,
    batch,
    *,
    rotations: bool = True,
    reflections: bool = True,
    translations: bool = True,
    permutations: bool = True,
    trials: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Worst relative error ``max|f(g x) - g f(x)| / max|f(x)|`` per kind of transformation.

    The output type is read from the result's shape: ``[B, k]`` is invariant, ``[N, k, 3]`` is a
    node vector field. Runs ``model`` under ``torch.no_grad``.
    """
    gen = torch.Generator().manual_seed(seed)
    dtype = batch.pos.dtype
    with torch.no_grad():
        ref = model(batch)
        n = _num_nodes(batch)
        node_vector = ref.dim() == 3 and ref.shape[0] == n and ref.shape[-1] == 3

        def expected(q: Tensor | None, perm: Tensor | None) -> Tensor:
            out = ref
            if node_vector and q is not None:
                out = out @ q.to(out).T
            if node_vector and perm is not None:
                out = out.index_select(0, perm)
            return out

        errors: dict[str, float] = {}
        kinds = []
        if rotations:
            kinds.append("rotation")
        if reflections:
            kinds.append("reflection")
        if translations:
            kinds.append("translation")
        if permutations:
            kinds.append("permutation")
        for kind in kinds:
            worst = 0.0
            for _ in range(trials):
                q = t = perm = None
                if kind == "rotation":
                    q = random_rotation(gen, dtype)
                elif kind == "reflection":
                    q = random_reflection(gen, dtype)
                elif kind == "translation":
                    t = torch.randn(3, generator=gen, dtype=torch.float64).to(dtype) * 3.0
                else:
                    bvec = getattr(batch, "batch", None)
                    if bvec is None:
                        bvec = torch.zeros(n, dtype=torch.long)
                    perm = within_graph_permutation(bvec, gen)
                moved = transform_batch(batch, rotation=q, translation=t, permutation=perm)
                worst = max(worst, _relative_error(model(moved), expected(q, perm)))
            errors[kind] = worst
    return errors


def assert_equivariant(
    model: Callable,
    batch,
    *,
    tol: float = 1e-10,
    rotations: bool = True,
    reflections: bool = True,
    translations: bool = True,
    permutations: bool = True,
    trials: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Check :func:`equivariance_errors` against ``tol``; raise ``AssertionError`` naming every
    transformation whose relative error exceeds it. Returns the errors.

    Use ``tol`` around 1e-10 for exact spaces in float64 (1e-4 in float32) and a measured
    tolerance for grid fibres. Pass ``reflections=False`` for SE(3)-only (chiral) models.
    """
    errors = equivariance_errors(
        model,
        batch,
        rotations=rotations,
        reflections=reflections,
        translations=translations,
        permutations=permutations,
        trials=trials,
        seed=seed,
    )
    bad = {k: v for k, v in errors.items() if not v <= tol}
    if bad:
        detail = ", ".join(f"{k}: {v:.3e}" for k, v in bad.items())
        raise AssertionError(f"not equivariant within tol={tol:.1e}: {detail}")
    return errors
