r"""Depthwise mixing over the fibre: ``out[n, o, c] = sum_p kernel[o, p, c] g[n, p, c] + bias[c]``.

The fibre step of the separable group convolutions (:func:`regconv.nn.fibre.fibre_step`). On
CPUs, in float32 and float64 and outside autocast, the value and first derivatives come from
the native kernels of :mod:`regconv.ops.native` (point by point, channels innermost, no
transposed copies); elsewhere from one ``[N, P] @ [P, O]`` product per channel (channels as
the batch of a bmm, on channel-first copies made by 2-D transposes), which the tests hold the
native path to. Second derivatives (training on forces) are differentiable PyTorch operations.
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.ops import native

#: take the native CPU kernels where they apply (tests switch it off to compare with PyTorch)
_NATIVE = True


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


class _NativeFibreMix(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g, kernel, bias):
        ctx.save_for_backward(g, kernel)
        return native.fibre_forward(g, kernel, bias)

    @staticmethod
    def backward(ctx, dout):
        g, kernel = ctx.saved_tensors
        need_g, need_kernel, need_bias = ctx.needs_input_grad
        dg = dkernel = dbias = None
        if torch.is_grad_enabled():  # create_graph (training on forces): differentiable ops
            if need_g:
                dg = torch.einsum("noc,opc->npc", dout, kernel)
            if need_kernel:
                dkernel = torch.einsum("noc,npc->opc", dout, g)
        else:
            if need_g:
                dg = native.fibre_forward(dout, kernel.transpose(0, 1), None)
            if need_kernel:
                dkernel = native.fibre_kernel_grad(g, dout)
        if need_bias:
            dbias = dout.sum((0, 1))
        return dg, dkernel, dbias


def _bmm_fibre_mix(g: Tensor, kernel: Tensor) -> Tensor:
    n, p, c = g.shape
    o = kernel.shape[0]
    kernel_t = kernel.permute(2, 1, 0).contiguous()  # [C, P, O]
    g_t = _Transpose.apply(g.reshape(n * p, c)).view(c, n, p)  # [C, N, P]
    per_channel = torch.bmm(g_t, kernel_t)  # [C, N, O]
    return _Transpose.apply(per_channel.view(c, n * o)).view(n, o, c)  # [N, O, C]


def fibre_mix(g: Tensor, kernel: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""``out[n, o, c] = sum_p kernel[o, p, c] g[n, p, c] (+ bias[c])``.

    Shapes:
        g ``[N, P, C]``; kernel ``[O, P, C]``; bias ``[C]`` or None -> ``[N, O, C]``.
    """
    if g.dim() != 3 or kernel.dim() != 3 or kernel.shape[1:] != g.shape[1:]:
        raise ValueError(
            f"fibre_mix needs g [N, P, C] and kernel [O, P, C], got {tuple(g.shape)} and "
            f"{tuple(kernel.shape)}"
        )
    if bias is not None and bias.shape != (g.shape[2],):
        raise ValueError(f"bias must be [C] = [{g.shape[2]}], got {tuple(bias.shape)}")
    if (
        _NATIVE
        and not torch.is_autocast_enabled(g.device.type)
        and g.shape[0] * g.shape[2] > 0
        and native.fibre_usable(g, kernel, bias)
    ):
        return _NativeFibreMix.apply(g, kernel, bias)
    out = _bmm_fibre_mix(g, kernel)
    return out + bias if bias is not None else out
