import pytest
import torch

from regconv.ops import scatter_max, scatter_mean, scatter_softmax, scatter_sum


def _data(dtype):
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(20, 4, 3, generator=gen, dtype=torch.float64).to(dtype)
    index = torch.randint(0, 5, (20,), generator=gen)
    return src, index


def _loop(src, index, size, reduce):
    out = torch.zeros((size,) + tuple(src.shape[1:]), dtype=src.dtype)
    for s in range(size):
        rows = src[index == s]
        if len(rows):
            out[s] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0).values}[reduce]
    return out


@pytest.mark.parametrize("reduce,fn", [("sum", scatter_sum), ("mean", scatter_mean), ("max", scatter_max)])
def test_scatter_matches_a_python_loop_and_keeps_empty_segments(reduce, fn, dtype):
    src, index = _data(dtype)
    out = fn(src, index, dim_size=7)  # segments 5 and 6 are empty
    assert out.shape == (7, 4, 3)
    assert torch.allclose(out, _loop(src, index, 7, reduce), atol=1e-6)
    assert torch.all(out[5:] == 0)


def test_scatter_softmax_sums_to_one_per_segment_and_is_shift_stable(dtype):
    src, index = _data(dtype)
    p = scatter_softmax(src * 1000, index, dim_size=5)
    assert torch.isfinite(p).all()
    assert torch.allclose(scatter_sum(p, index, 5), torch.ones(5, 4, 3, dtype=dtype), atol=1e-5)


def test_scatter_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="rows"):
        scatter_sum(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="1-D"):
        scatter_sum(torch.zeros(3, 2), torch.zeros(3, 1, dtype=torch.long), 2)
    with pytest.raises(ValueError, match="non-negative"):
        scatter_sum(torch.zeros(3, 2), torch.zeros(3, dtype=torch.long), -1)


def test_scatter_sum_is_differentiable():
    src, index = _data(torch.float64)
    src.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: scatter_sum(s, index, 5), (src,))
