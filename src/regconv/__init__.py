"""regconv: regular E(3)/SE(3)-equivariant graph neural networks.

Each message is a non-linear group convolution whose kernel is an MLP of the invariants of a pair
of points of a homogeneous space of SE(3): R^3, R^3 x S^2 or SE(3) itself.

Layers, bottom to top (dependencies point one way)::

    ops, geometry -> spaces -> kernels -> graph -> nn -> models -> training -> ase -> md
    -> bench -> cli   (data: utils and graph only; docs/ARCHITECTURE.md, checked by lint-imports)
"""

__version__ = "0.8.2"
