r"""The block component of the fibre models: which group convolution each layer of
:class:`regconv.models.FibreNet` runs, inside a :class:`regconv.nn.ConvNeXtBlock`.

A model option ``block`` is a :class:`BlockSpec` or a mapping ``{"kind": "attention", "heads": 4,
"widening": 4, "layer_scale": 1e-6}`` with ``kind`` a key of :data:`BLOCKS` (default
``"separable"``); a new convolution is a subclass with its options and one entry there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from regconv.nn.attention_conv import AttentionGroupConv
from regconv.nn.block import ConvNeXtBlock
from regconv.nn.conv import SeparableGroupConv
from regconv.nn.full_conv import FullGroupConv
from regconv.utils.checks import check_int, optional_nonnegative
from regconv.utils.components import build_component

__all__ = ["AttentionBlock", "BLOCKS", "BlockSpec", "FullBlock", "SeparableBlock", "build_block"]


@dataclass(frozen=True)
class BlockSpec:
    r"""``f + gamma * MLP(LayerNorm(conv(f)))`` with a ``widening``-times wide MLP and the layer
    scale ``gamma`` starting at ``layer_scale`` (None: no scale); subclasses choose ``conv``.

    Class attributes tell the model what the convolution reads: :attr:`full_kernel` (the complete
    pair invariants ``[E, O, O, D]``, no fibre basis), :attr:`tabulates` (a
    :class:`regconv.kernels.TableSpec` may replace its spatial kernel), :attr:`edge_weight`
    (the cutoff envelope as an edge weight, beside the basis).
    """

    widening: int = 4
    layer_scale: float | None = 1e-6

    full_kernel: ClassVar[bool] = False
    tabulates: ClassVar[bool] = False
    edge_weight: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_int("block.widening", self.widening)
        optional_nonnegative("block.layer_scale", self.layer_scale)

    def conv(self, channels: int, basis_dim: int, fibre_dim: int) -> nn.Module:
        """The group convolution of one layer (``fibre_dim``: the fibre basis size, 0 without)."""
        raise NotImplementedError

    def build(self, layers: int, channels: int, basis_dim: int, fibre_dim: int) -> nn.ModuleList:
        """``layers`` blocks, each its convolution inside a ConvNeXt block (every convolution is
        built before the blocks around them: the order in which parameters are drawn)."""
        convs = [self.conv(channels, basis_dim, fibre_dim) for _ in range(layers)]
        return nn.ModuleList(
            ConvNeXtBlock(conv, channels, self.widening, self.layer_scale) for conv in convs
        )


@dataclass(frozen=True)
class SeparableBlock(BlockSpec):
    """:class:`regconv.nn.SeparableGroupConv`: spatial kernel per orientation, then the fibre."""

    tabulates: ClassVar[bool] = True

    def conv(self, channels: int, basis_dim: int, fibre_dim: int) -> nn.Module:
        return SeparableGroupConv(channels, basis_dim, fibre_dim)


@dataclass(frozen=True)
class FullBlock(BlockSpec):
    """:class:`regconv.nn.FullGroupConv`: one kernel of the complete pair invariants (``O``
    times costlier; spaces with ``has_full_kernel``)."""

    full_kernel: ClassVar[bool] = True

    def conv(self, channels: int, basis_dim: int, fibre_dim: int) -> nn.Module:
        return FullGroupConv(channels, basis_dim)


@dataclass(frozen=True)
class AttentionBlock(BlockSpec):
    """:class:`regconv.nn.AttentionGroupConv` with ``heads`` heads (dividing the channels): the
    separable bases, the cutoff envelope as an edge weight."""

    heads: int = 4

    edge_weight: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("block.heads", self.heads)

    def conv(self, channels: int, basis_dim: int, fibre_dim: int) -> nn.Module:
        return AttentionGroupConv(channels, basis_dim, fibre_dim, self.heads)


#: the blocks a spec can name, by ``kind``
BLOCKS: dict[str, type[BlockSpec]] = {
    "separable": SeparableBlock,
    "full": FullBlock,
    "attention": AttentionBlock,
}


def build_block(spec: BlockSpec | Mapping[str, Any] | None) -> BlockSpec:
    """The block component of ``spec`` (None: a :class:`SeparableBlock` at its defaults)."""
    return build_component(
        "block", {} if spec is None else spec, BLOCKS, BlockSpec, default="separable"
    )
