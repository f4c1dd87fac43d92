r"""The declared interface of the homogeneous spaces of SE(3) that models are typed against.

- :class:`FibreSpace`: points are atoms, each carrying the same fibre of ``O`` points (a trivial
  fibre on R^3, a grid of orientations on R^3 x S^2, a grid of frames on SE(3)). Node models
  (:class:`regconv.models.FibreNet`) work on any of them.
- :class:`EdgeSpace`: points are the directed edges of a graph (the "edge cloud" of DimeNet), so
  the fibre comes from the data, not from a grid.

Both say whether their models are exactly equivariant (``exact``) and which group they respect
(``chiral``: SE(3) rather than E(3)).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["EdgeSpace", "FibreSpace", "HomogeneousSpace"]


class HomogeneousSpace(nn.Module):
    """Base of every space. Grids are buffers (they travel in ``state_dict``)."""

    #: models on this space are exactly equivariant (no grid quadrature)
    exact: bool = True

    @property
    def chiral(self) -> bool:
        """True if the invariants change under reflections (SE(3), not E(3))."""
        return False


class FibreSpace(HomogeneousSpace):
    r"""A space ``R^3 x F`` whose every point carries the same fibre of ``num_fibre`` points.

    Features live on ``[N, O, C]``. A separable kernel sees, per fibre point ``o``, the
    ``spatial_dim`` spatial invariants of ``x_ij`` (its coordinates in a frame of the fibre
    point, or its length: their Euclidean norm is ``|x_ij|``) and, over the fibre, the
    ``fibre_dim`` invariants of ``(o, p)``; a full kernel (``full_dim`` not None) sees the
    complete ``[E, O, O, full_dim]`` invariants of the pair, the spatial invariants first.
    Vectors lift onto ``vector_components`` channels per fibre point and project back to R^3
    (``vector_components = 0``: the fibre cannot hold a vector).

    Shapes:
        spatial_invariants ``[E, 3] -> [E, O, spatial_dim]``; fibre_invariants
        ``-> [O, O, fibre_dim]`` or None; full_invariants ``[E, 3] -> [E, O, O, full_dim]``;
        lift_vectors ``[N, V, 3] -> [N, O, V * max(1, vector_components)]``; project_vectors
        ``[N, O, V * vector_components] -> [N, V, 3]``.
    """

    spatial_dim: int
    fibre_dim: int
    #: size of the complete pair invariants of the full kernel, None if the space has no full kernel
    full_dim: int | None = None
    vector_components: int

    @property
    def num_fibre(self) -> int:
        raise NotImplementedError

    @property
    def has_full_kernel(self) -> bool:
        return self.full_dim is not None

    def spatial_invariants(self, x_ij: Tensor) -> Tensor:
        raise NotImplementedError

    def fibre_invariants(self) -> Tensor | None:
        raise NotImplementedError

    def full_invariants(self, x_ij: Tensor) -> Tensor:
        raise ValueError(f"{type(self).__name__} has no full kernel")

    def lift_vectors(self, vec: Tensor) -> Tensor:
        raise NotImplementedError

    def project_vectors(self, f: Tensor) -> Tensor:
        raise NotImplementedError

    def rotated(self, rotation: Tensor) -> FibreSpace:
        """The same space with its fibre rotated by ``rotation`` ``[3, 3]``: a model on it gives
        exactly the outputs of the original model on inputs rotated by ``rotation^T``."""
        raise NotImplementedError


class EdgeSpace(HomogeneousSpace):
    r"""The directed edges of a graph as points of R^3 x S^2 (position of the source atom,
    direction to the destination). Messages pass between edges that share an atom.

    Shapes:
        edge_points ``x_ij [E, 3] -> n [E, 3], length [E, 1]``;
        pair_invariants ``-> [T, pair_dim]`` for ``T`` pairs of edges.
    """

    num_fibre = 1
    pair_dim: int

    def edge_points(self, x_ij: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def pair_invariants(self, n: Tensor, length: Tensor, pairs: Tensor) -> Tensor:
        raise NotImplementedError

    def lift_vectors(self, vec: Tensor, edge_index: Tensor, n: Tensor) -> Tensor:
        raise NotImplementedError
