"""The block and readout components of the fibre models: what they build, and specs."""

import pytest

from regconv.nn import (
    AttentionBlock,
    AttentionGroupConv,
    ConvNeXtBlock,
    EdgeVectorReadout,
    FibreVectorReadout,
    FullBlock,
    FullGroupConv,
    GraphScalarReadout,
    ReadoutSpec,
    SeparableBlock,
    SeparableGroupConv,
    build_block,
    build_readout,
)
from regconv.spaces import R3, R3S2


@pytest.mark.parametrize(
    ("spec", "conv", "flags"),
    [(SeparableBlock(), SeparableGroupConv, (False, True, False)),
     (FullBlock(), FullGroupConv, (True, False, False)),
     (AttentionBlock(heads=2), AttentionGroupConv, (False, False, True))],
)  # fmt: skip
def test_blocks_build_their_convolution_inside_convnext_blocks(spec, conv, flags):
    blocks = spec.build(3, 8, 4, 0 if spec.full_kernel else 2)
    assert len(blocks) == 3 and all(isinstance(b, ConvNeXtBlock) for b in blocks)
    assert all(isinstance(b.conv, conv) for b in blocks)
    assert (spec.full_kernel, spec.tabulates, spec.edge_weight) == flags
    assert blocks[0].mlp[0].out_features == 4 * 8
    assert float(blocks[0].gamma[0]) == pytest.approx(1e-6)


def test_block_specs_from_mappings():
    assert build_block(None) == SeparableBlock()
    assert build_block({"widening": 2, "layer_scale": None}) == SeparableBlock(2, None)
    assert build_block({"kind": "attention"}) == AttentionBlock(heads=4)
    assert build_block({"kind": "full"}).build(1, 4, 3, 0)[0].gamma is not None
    assert build_block({"layer_scale": None}).build(1, 4, 3, 0)[0].gamma is None


@pytest.mark.parametrize(
    ("spec", "match"),
    [({"kind": "dense"}, "block: unknown kind 'dense'"), ({"widening": 0}, "block.widening"),
     ({"layer_scale": float("nan")}, "block.layer_scale"), ({"layer_scale": True}, "layer_scale"),
     ({"kind": "attention", "heads": -2}, "block.heads"),
     ({"kind": "full", "heads": 2}, r"block \(full\).*heads")],
)  # fmt: skip
def test_bad_block_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        build_block(spec)


def test_readout_spec_builds_the_head_of_each_output():
    def sizes(space, num_outputs=2, vector_in=0):
        return {"channels": 8, "layers": 3, "num_outputs": num_outputs, "space": space,
                "basis_dim": 4, "vector_in": vector_in}  # fmt: skip

    spec = ReadoutSpec(pooling="mean", hidden=6)
    head = spec.head("graph", **sizes(R3S2(8)))
    assert isinstance(head, GraphScalarReadout) and head.pooling == "mean"
    assert head.mlp[0].out_features == 6 and spec.layer_norms(8, 3) is None
    plain = ReadoutSpec()
    assert isinstance(plain.head("node_vector", **sizes(R3S2(8), vector_in=1)), FibreVectorReadout)
    assert isinstance(plain.head("node_vector", **sizes(R3(), vector_in=1)), EdgeVectorReadout)
    every = build_readout({"all_layers": True})
    assert len(every.layer_norms(8, 3)) == 2
    assert every.head("graph", **sizes(R3(), num_outputs=1)).linear.in_features == 8 * 3
    with pytest.raises(ValueError, match="output='graph' only"):
        spec.head("node_vector", **sizes(R3S2(8)))


@pytest.mark.parametrize(
    ("spec", "match"),
    [({"pooling": "max"}, "readout.pooling"), ({"hidden": -1}, "readout.hidden"),
     ({"all_layers": "yes"}, "readout.all_layers"), ({"kind": "mlp"}, "unknown kind 'mlp'")],
)  # fmt: skip
def test_bad_readout_specs(spec, match):
    with pytest.raises(ValueError, match=match):
        build_readout(spec)
