"""regconv: regular E(3)/SE(3)-equivariant graph neural networks.

Each message is a non-linear group convolution whose kernel is an MLP of the invariants of a pair
of points of a homogeneous space of SE(3): R^3, R^3 x S^2 or SE(3) itself.

Layers, bottom to top (dependencies point one way)::

    ops, geometry -> spaces -> graph -> nn -> models -> training -> cli
"""

__version__ = "0.5.2"
