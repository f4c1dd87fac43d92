"""Layers: invariant embeddings, envelopes, group convolutions, blocks, readouts."""

from regconv.nn.block import ConvNeXtBlock
from regconv.nn.conv import SeparableGroupConv
from regconv.nn.embedding import AtomEmbedding, KernelBasis, PolynomialFeatures
from regconv.nn.envelope import CosineCutoff
from regconv.nn.full_conv import FullGroupConv
from regconv.nn.kernel_table import TabulatedBasis, tabulate
from regconv.nn.readout import FibreVectorReadout, GraphScalarReadout

__all__ = [
    "AtomEmbedding",
    "ConvNeXtBlock",
    "CosineCutoff",
    "FibreVectorReadout",
    "FullGroupConv",
    "GraphScalarReadout",
    "KernelBasis",
    "PolynomialFeatures",
    "SeparableGroupConv",
    "TabulatedBasis",
    "tabulate",
]
