"""Layers: group convolutions (separable, full, attention) and their fibre step, the ConvNeXt
block, embeddings and readouts, and the layers of the literature models (SchNet's cfconv,
DimeNet's directional interaction and output blocks, EGNN's layer)."""

from regconv.nn.attention_conv import AttentionGroupConv
from regconv.nn.block import ConvNeXtBlock
from regconv.nn.conv import SeparableGroupConv
from regconv.nn.edge_vector_readout import EdgeVectorReadout
from regconv.nn.embedding import AtomEmbedding
from regconv.nn.fibre import fibre_step
from regconv.nn.full_conv import FullGroupConv
from regconv.nn.readout import FibreVectorReadout, GraphScalarReadout

__all__ = [
    "AtomEmbedding",
    "AttentionGroupConv",
    "ConvNeXtBlock",
    "EdgeVectorReadout",
    "FibreVectorReadout",
    "FullGroupConv",
    "GraphScalarReadout",
    "SeparableGroupConv",
    "fibre_step",
]
