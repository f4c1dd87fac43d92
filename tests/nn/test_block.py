"""ConvNeXtBlock around the group convolutions: fused against layer-by-layer evaluation (values,
gradients, double backward), the layer scale, and what the block passes on to its conv."""

import pytest
import torch
from torch import nn

from regconv.nn import AttentionGroupConv, ConvNeXtBlock, SeparableGroupConv

EDGE_INDEX = torch.tensor(
    [
        [1, 2, 0, 3, 0, 4, 2, 1, 3],
        [0, 0, 1, 1, 2, 2, 3, 0, 3],
    ]
)
N, O, C, K, KF = 5, 3, 4, 3, 2


def _block(kind="separable", layer_scale=0.7, seed=0):
    torch.manual_seed(seed)
    if kind == "separable":
        conv = SeparableGroupConv(C, K, KF)
    else:
        conv = AttentionGroupConv(C, K, KF, heads=2)
    block = ConvNeXtBlock(conv, C, layer_scale=layer_scale).double()
    with torch.no_grad():  # move every parameter off its init (zero biases, unit norm weights)
        for p in block.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return block


def _inputs(seed=1):
    gen = torch.Generator().manual_seed(seed)
    f = torch.randn(N, O, C, generator=gen, dtype=torch.float64, requires_grad=True)
    basis = torch.randn(
        EDGE_INDEX.shape[1], O, K, generator=gen, dtype=torch.float64, requires_grad=True
    )
    fibre_basis = torch.randn(O, O, KF, generator=gen, dtype=torch.float64)
    weight = torch.rand(EDGE_INDEX.shape[1], generator=gen, dtype=torch.float64) + 0.1
    return f, basis, fibre_basis, weight


def _first_and_second_order(block, f, basis, fibre_basis, edge_weight):
    """Output, first gradients (input, basis, parameters), and the gradient of a scalar of the
    input gradient (what force training differentiates) w.r.t. the input and the parameters."""
    gen = torch.Generator().manual_seed(9)
    out = block(f, EDGE_INDEX, basis, fibre_basis, edge_weight)
    cot = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    params = list(block.parameters())
    first = torch.autograd.grad(out, [f, basis, *params], cot, create_graph=True)
    cot2 = torch.randn(f.shape, generator=gen, dtype=torch.float64)
    second = torch.autograd.grad((first[0] * cot2).sum(), [f, *params], allow_unused=True)
    second = [
        torch.zeros_like(p) if g is None else g for g, p in zip(second, [f, *params], strict=True)
    ]
    return out, first, second


@pytest.mark.parametrize("kind", ["separable", "attention"])
@pytest.mark.parametrize("layer_scale", [0.7, None], ids=["scale", "no-scale"])
def test_fused_block_equals_layer_by_layer_block_up_to_second_order(kind, layer_scale):
    block = _block(kind, layer_scale)
    f, basis, fibre_basis, weight = _inputs()
    w = weight if kind == "attention" else None
    out, first, second = _first_and_second_order(block, f, basis, fibre_basis, w)
    block.fused = False
    block.conv.fused = False  # the reference is layer by layer throughout (attention ignores it)
    assert ConvNeXtBlock.fused is True  # set on the instance only
    out_ref, first_ref, second_ref = _first_and_second_order(block, f, basis, fibre_basis, w)
    torch.testing.assert_close(out, out_ref, rtol=1e-12, atol=1e-12)
    for a, b in zip(first, first_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
    for a, b in zip(second, second_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-11)
    assert second[0].abs().max() > 0  # the block is not linear in f: a real second derivative


@pytest.mark.parametrize("fused", [True, False])
def test_layer_scale_multiplies_the_residual_branch(fused):
    scaled, plain = _block(layer_scale=0.25), _block(layer_scale=None)
    with torch.no_grad():
        scaled.gamma.fill_(0.25)  # _block moved it off its init
    assert plain.gamma is None and "gamma" not in plain.state_dict()
    missing = plain.load_state_dict(scaled.state_dict(), strict=False)
    assert missing.unexpected_keys == ["gamma"] and not missing.missing_keys
    scaled.fused = plain.fused = fused
    f, basis, fibre_basis, _ = _inputs()
    branch_scaled = scaled(f, EDGE_INDEX, basis, fibre_basis) - f
    branch_plain = plain(f, EDGE_INDEX, basis, fibre_basis) - f
    torch.testing.assert_close(branch_scaled, 0.25 * branch_plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_zero_layer_scale_is_the_identity_and_still_trains(fused):
    torch.manual_seed(0)
    block = ConvNeXtBlock(SeparableGroupConv(C, K, KF), C, layer_scale=0.0).double()
    block.fused = fused
    f, basis, fibre_basis, _ = _inputs()
    out = block(f, EDGE_INDEX, basis, fibre_basis)
    assert torch.equal(out, f)
    (df,) = torch.autograd.grad(out.sum(), [f], retain_graph=True)
    assert torch.equal(df, torch.ones_like(f))
    (dgamma,) = torch.autograd.grad(out.sum(), [block.gamma])
    assert dgamma.abs().min() > 0  # the scale gets a gradient and can leave zero


class _Recorder(nn.Module):
    """A conv that records how it was called (positional count and keyword names)."""

    def __init__(self, takes_weight: bool):
        super().__init__()
        self.calls = []
        self.takes_weight = takes_weight

    def forward(self, f, edge_index, basis, fibre_basis=None, **kwargs):
        if kwargs and not self.takes_weight:
            raise TypeError("unexpected keyword")
        self.calls.append((4, sorted(kwargs)))
        return f * 2.0


def test_edge_weight_is_passed_on_only_when_given():
    f, basis, fibre_basis, weight = _inputs()
    rec = _Recorder(takes_weight=False)
    block = ConvNeXtBlock(rec, C).double()
    block(f, EDGE_INDEX, basis, fibre_basis)
    assert rec.calls == [(4, [])]
    rec_w = _Recorder(takes_weight=True)
    ConvNeXtBlock(rec_w, C).double()(f, EDGE_INDEX, basis, fibre_basis, weight)
    assert rec_w.calls == [(4, ["edge_weight"])]


def test_block_output_is_residual_plus_mlp_of_the_conv_with_its_edge_weight():
    block = _block("attention")
    f, basis, fibre_basis, weight = _inputs()
    out = block(f, EDGE_INDEX, basis, fibre_basis, weight)
    g = block.conv(f, EDGE_INDEX, basis, fibre_basis, edge_weight=weight)
    by_hand = f + block.gamma * block.mlp(block.norm(g))
    torch.testing.assert_close(out, by_hand, rtol=1e-12, atol=1e-12)
    # the weight reaches the attention (it changes the output)
    assert not torch.allclose(out, block(f, EDGE_INDEX, basis, fibre_basis))


def test_a_conv_without_edge_weight_works_in_a_block_called_without_it():
    block = _block("separable")
    f, basis, fibre_basis, _ = _inputs()
    out = block(f, EDGE_INDEX, basis, fibre_basis)
    g = block.conv(f, EDGE_INDEX, basis, fibre_basis)
    torch.testing.assert_close(
        out, f + block.gamma * block.mlp(block.norm(g)), rtol=1e-12, atol=1e-12
    )
