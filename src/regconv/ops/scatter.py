"""Segment reductions with an explicit output size.

All reductions take ``dim_size`` explicitly: the number of segments is a property of the graph
(e.g. the number of nodes), never inferred from ``index.max()``, so that trailing nodes without
incoming edges still get a (zero) row and no host synchronisation is needed.

Shapes:
    - ``src``: ``[E, *]`` (reduced along ``dim=0``)
    - ``index``: ``[E]`` long, values in ``[0, dim_size)``
    - output: ``[dim_size, *]``
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(src: Tensor, index: Tensor, dim_size: int) -> None:
    if index.dim() != 1:
        raise ValueError(f"index must be 1-D, got shape {tuple(index.shape)}")
    if src.shape[0] != index.shape[0]:
        raise ValueError(
            f"src has {src.shape[0]} rows but index has {index.shape[0]} entries; they must match"
        )
    if int(dim_size) < 0:
        raise ValueError(f"dim_size must be non-negative, got {dim_size}")


def scatter_sum(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    r"""Sum rows of ``src`` into ``dim_size`` segments: :math:`out_s = \sum_{e: index_e = s} src_e`.

    Shapes:
        src ``[E, *]``, index ``[E]`` -> ``[dim_size, *]``.
    """
    _check(src, index, dim_size)
    out = src.new_zeros((int(dim_size),) + tuple(src.shape[1:]))
    return out.index_add_(0, index, src)


def scatter_mean(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    r"""Mean of the rows of ``src`` in each segment; empty segments give 0.

    Shapes:
        src ``[E, *]``, index ``[E]`` -> ``[dim_size, *]``.
    """
    total = scatter_sum(src, index, dim_size)
    count = torch.zeros(int(dim_size), dtype=src.dtype, device=src.device)
    count.index_add_(0, index, torch.ones_like(index, dtype=src.dtype))
    count = count.clamp_min(1.0).view((-1,) + (1,) * (src.dim() - 1))
    return total / count


def scatter_max(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    r"""Maximum of the rows of ``src`` in each segment; empty segments give 0.

    Shapes:
        src ``[E, *]``, index ``[E]`` -> ``[dim_size, *]``.
    """
    _check(src, index, dim_size)
    shape = (int(dim_size),) + tuple(src.shape[1:])
    idx = index.view((-1,) + (1,) * (src.dim() - 1)).expand_as(src)
    out = torch.full(shape, float("-inf"), dtype=src.dtype, device=src.device)
    out = out.scatter_reduce(0, idx, src, reduce="amax", include_self=True)
    return torch.where(torch.isinf(out) & (out < 0), torch.zeros_like(out), out)


def scatter_softmax(src: Tensor, index: Tensor, dim_size: int) -> Tensor:
    r"""Softmax of ``src`` over the rows that share a segment (numerically stabilised).

    :math:`out_e = \exp(src_e - m_s) / \sum_{e': index_{e'} = s} \exp(src_{e'} - m_s)`, with
    :math:`s = index_e` and :math:`m_s` the segment maximum.

    Shapes:
        src ``[E, *]``, index ``[E]`` -> ``[E, *]``.
    """
    seg_max = scatter_max(src.detach(), index, dim_size)
    shifted = (src - seg_max.index_select(0, index)).exp()
    denom = scatter_sum(shifted, index, dim_size).index_select(0, index)
    return shifted / denom
