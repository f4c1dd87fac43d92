r"""The fibre step of a separable group convolution: a convolution over the fibre, then the bias.

.. math::
    f'_c(x_i, o) = \frac{1}{O} \sum_{p} k^{fib}_c(a_{op})\, g_c(x_i, p) + b_c

with ``k^fib = W_fib b^fib`` a per-layer linear map of the shared fibre kernel basis ``b^fib``
(an MLP of the fibre invariants ``a_{op}``, e.g. ``n_o . n_p``). Shared by every separable
convolution (:class:`regconv.nn.SeparableGroupConv`, :class:`regconv.nn.AttentionGroupConv`);
the weights stay attributes of the convolution, so its ``state_dict`` keys are its own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["fibre_step"]


class _Transpose(torch.autograd.Function):
    """``x.t().contiguous()`` of a 2-D tensor, with a backward that is again a contiguous
    transpose (differentiable any number of times).

    Autograd's own backward of ``t().contiguous()`` hands on a transposed *view*; a bmm fed such
    a view copies each matrix of the batch one by one (per-channel copies of ``[N, O]`` that
    cost more than the products at N 1,736, O 16, C 128). A 2-D transpose copy is the one
    transposition torch runs blocked (4x faster than ``permute(2, 0, 1).contiguous()`` here).
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        return x.t().contiguous()

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        return _Transpose.apply(grad)


def fibre_step(
    g: Tensor, fibre: nn.Linear | None, fibre_basis: Tensor | None, bias: Tensor | None
) -> Tensor:
    """Convolve ``g`` over the fibre with the kernel ``fibre(fibre_basis)`` (when the layer has
    one), then add ``bias`` (when given).

    Computed as one ``[N, P] @ [P, O]`` product per channel (channels as the batch of a bmm), on
    channel-first copies made by 2-D transposes in both passes.

    Shapes:
        g ``[N, O, C]``; fibre ``Linear(K_f, C)`` or None; fibre_basis ``[O, O, K_f]`` or None;
        bias ``[C]`` or None -> ``[N, O, C]``.
    """
    if fibre is not None:
        if fibre_basis is None:
            raise ValueError("this convolution has a fibre kernel: pass fibre_basis")
        n, o, c = g.shape
        fibre_kernel = fibre(fibre_basis)  # [O, P, C]
        # the 1/O of the fibre average on the small kernel (exact when O is a power of two)
        kernel_t = (fibre_kernel / fibre_kernel.shape[1]).permute(2, 1, 0).contiguous()  # [C, P, O]
        g_t = _Transpose.apply(g.reshape(n * o, c)).view(c, n, o)  # [C, N, P]
        per_channel = torch.bmm(g_t, kernel_t)  # [C, N, O]
        g = _Transpose.apply(per_channel.view(c, n * o)).view(n, o, c)  # [N, O, C]
    if bias is not None:
        g = g + bias
    return g
