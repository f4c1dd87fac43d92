"""Layers: group convolutions (separable, full, attention) and their fibre step, the ConvNeXt
block, embeddings and readouts, the block and readout components of the fibre models
(:class:`BlockSpec` and its kinds, :class:`ReadoutSpec`), and the layers of the literature
models (SchNet's cfconv, DimeNet's directional interaction and output blocks, EGNN's layer)."""

from regconv.nn.attention_conv import AttentionGroupConv
from regconv.nn.block import ConvNeXtBlock
from regconv.nn.block_spec import (
    BLOCKS,
    AttentionBlock,
    BlockSpec,
    FullBlock,
    SeparableBlock,
    build_block,
)
from regconv.nn.conv import SeparableGroupConv
from regconv.nn.edge_vector_readout import EdgeVectorReadout
from regconv.nn.embedding import AtomEmbedding
from regconv.nn.fibre import fibre_step
from regconv.nn.full_conv import FullGroupConv
from regconv.nn.readout import FibreVectorReadout, GraphScalarReadout
from regconv.nn.readout_spec import READOUTS, ReadoutSpec, build_readout

__all__ = [
    "BLOCKS",
    "READOUTS",
    "AtomEmbedding",
    "AttentionBlock",
    "AttentionGroupConv",
    "BlockSpec",
    "ConvNeXtBlock",
    "EdgeVectorReadout",
    "FibreVectorReadout",
    "FullBlock",
    "FullGroupConv",
    "GraphScalarReadout",
    "ReadoutSpec",
    "SeparableBlock",
    "SeparableGroupConv",
    "build_block",
    "build_readout",
    "fibre_step",
]
