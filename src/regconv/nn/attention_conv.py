r"""Group self-attention on R^3 x S^2 with a grid fibre (LieTransformer class), separable."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from regconv.nn.fibre import fibre_step
from regconv.ops import scatter_softmax, scatter_sum


class AttentionGroupConv(nn.Module):
    r"""A separable group convolution whose spatial weights are attention coefficients.

    Spatial step, per receiving point ``i``, orientation ``o`` and head ``h`` (channels ``c`` of
    head ``h``):

    .. math::
        \ell_{ij,o,h} &= \frac{q_{i,o,h} \cdot k_{j,o,h}}{\sqrt{C/H}} + B_h(b_{ij,o})
            + \log u_{ij} \\
        \alpha_{ij,o,h} &= \mathrm{softmax}_{j \in \mathcal{N}(i)}\, \ell_{ij,o,h} \\
        g_c(x_i, o) &= \sum_j \alpha_{ij,o,h(c)}\; k^{sp}_c(b_{ij,o})\, f_c(x_j, o)

    with ``q = W_q f``, ``k = W_k f`` (shared over orientations), ``b_{ij,o}`` the spatial kernel
    basis (an MLP of the invariants ``(n_o.x_ij, |x_ij ⊥ n_o|)``) and ``u_ij`` the optional edge
    weight (the cutoff envelope: adding ``log u`` makes the normalisation continuous as edges
    enter the cutoff; ``u = 0`` is clamped to the smallest normal number). Then the fibre step of
    :class:`regconv.nn.SeparableGroupConv`:
    ``f'_c(x_i, o) = (1/O) sum_p k^fib_c(n_o.n_p) g_c(x_i, p) + bias_c``. Attention is
    normalised per receiving point and orientation with :func:`regconv.ops.scatter_softmax`, so
    the weights depend non-linearly on both the receiving and the sending features.

    Shapes:
        f ``[N, O, C]``; edge_index ``[2, E]``; basis ``[E, O, K]``; fibre_basis ``[O, O, K_f]``
        or None; edge_weight ``[E]`` or None -> ``[N, O, C]``.
    """

    def __init__(
        self,
        channels: int,
        basis_dim: int,
        fibre_basis_dim: int = 0,
        heads: int = 4,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
            raise ValueError(f"heads must be an integer >= 1, got {heads!r}")
        if channels % heads:
            raise ValueError(f"channels ({channels}) must be divisible by heads ({heads})")
        self.heads = heads
        self.head_dim = channels // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.query = nn.Linear(channels, channels, bias=False)
        self.key = nn.Linear(channels, channels, bias=False)
        self.logit_bias = nn.Linear(basis_dim, heads, bias=False)
        self.spatial = nn.Linear(basis_dim, channels, bias=False)
        self.fibre = nn.Linear(fibre_basis_dim, channels, bias=False) if fibre_basis_dim else None
        self.bias = nn.Parameter(torch.zeros(channels)) if bias else None

    def forward(
        self,
        f: Tensor,
        edge_index: Tensor,
        basis: Tensor,
        fibre_basis: Tensor | None = None,
        edge_weight: Tensor | None = None,
    ) -> Tensor:
        src, dst = edge_index[0], edge_index[1]
        n, o, c = f.shape
        e = src.shape[0]
        heads, hd = self.heads, self.head_dim
        q = self.query(f).view(n, o, heads, hd).index_select(0, dst)  # [E, O, H, C/H]
        k = self.key(f).view(n, o, heads, hd).index_select(0, src)  # [E, O, H, C/H]
        logits = (q * k).sum(-1) * self.scale + self.logit_bias(basis)  # [E, O, H]
        if edge_weight is not None:
            tiny = torch.finfo(logits.dtype).tiny
            logits = logits + torch.log(edge_weight.clamp_min(tiny)).view(-1, 1, 1)
        alpha = scatter_softmax(logits, dst, n)  # [E, O, H]
        value = f.index_select(0, src) * self.spatial(basis)  # [E, O, C]
        msg = (alpha.unsqueeze(-1) * value.view(e, o, heads, hd)).reshape(e, o, c)
        out = scatter_sum(msg, dst, n)  # [N, O, C]
        return fibre_step(out, self.fibre, fibre_basis, self.bias)  # [N, O, C]
