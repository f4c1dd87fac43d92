"""Homogeneous spaces of SE(3): their pair invariants, fibre grids (buffers), lift/project.

================  =========================  ==============================  ===============
space             fibre                      pair invariants                 equivariance
================  =========================  ==============================  ===============
:class:`R3`       trivial (O = 1)            ``|x_ij|``                      exact, E(3)
:class:`R3S2`     Fibonacci grid on S^2      axial + fibre (or full set)     grid-approximate
:class:`R3S2Edge` edge directions            ``d_a, d_b, cos angle``         exact, E(3)
:class:`SE3`      finite group in SO(3)      ``R^T x_ij``, ``R_o^T R_p``     grid-approximate, SE(3)
================  =========================  ==============================  ===============
"""

from regconv.spaces.base import EdgeSpace, FibreSpace, HomogeneousSpace
from regconv.spaces.grids import fibonacci_sphere, rotation_group
from regconv.spaces.r3 import R3
from regconv.spaces.r3s2 import R3S2
from regconv.spaces.r3s2_edge import R3S2Edge
from regconv.spaces.registry import SPACES, build_space
from regconv.spaces.se3 import SE3

__all__ = [
    "EdgeSpace",
    "FibreSpace",
    "HomogeneousSpace",
    "R3",
    "R3S2",
    "R3S2Edge",
    "SE3",
    "SPACES",
    "build_space",
    "fibonacci_sphere",
    "rotation_group",
]
