r"""Depthwise mixing over the fibre: ``out[n, o, c] = sum_p kernel[o, p, c] g[n, p, c] + bias[c]``.

The fibre step of the separable group convolutions (:func:`regconv.nn.fibre.fibre_step`). On
CPUs, in float32 and float64, the value and first derivatives come from the native kernels
of :mod:`regconv.ops.native` (point by point, channels innermost, no transposed copies); under
``torch.autocast`` the mix runs in float32 (natively on CPUs), its inputs cast; elsewhere from
one ``[N, P] @ [P, O]`` product per channel (channels as the batch of a bmm, on channel-first
copies made by 2-D transposes), which the tests hold the native path to.

The mix is a partial derivative of the trilinear form
``Psi(u, g, K) = sum_{n, o, p, c} u[n, o, c] K[o, p, c] g[n, p, c]`` (``out = dPsi/du + bias``),
and the gradients of each partial of ``Psi`` are partials of ``Psi`` again, with the upstream
gradient in the differentiated slot: ``dPsi/dg = mix(u, K^T)`` and ``dPsi/dK = sum_n u g^T`` per
channel. So second derivatives (training on forces) run the same two native kernels
(:class:`FibreProduct`, differentiable to any order).
"""

from __future__ import annotations

import torch
from torch import Tensor

from regconv.ops import native
from regconv.ops.message import _under_autocast

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


def _fibre_partial(slot: int, u: Tensor | None, g: Tensor | None, kernel: Tensor | None) -> Tensor:
    """``dPsi/d(slot)`` at the two other operands, by the native kernels (no graph recorded).

    Shapes: u ``[N, O, C]``; g ``[N, P, C]``; kernel ``[O, P, C]``."""
    if slot == 0:
        return native.fibre_forward(g, kernel, None)  # [N, O, C]
    if slot == 1:
        return native.fibre_forward(u, kernel.transpose(0, 1), None)  # [N, P, C]
    return native.fibre_kernel_grad(g, u)  # [O, P, C]


class FibreProduct(torch.autograd.Function):
    """``dPsi/d(slot)`` of ``Psi(u, g, K)`` (module docstring) at the two other operands (the
    slot's own operand is None), on the native kernels, differentiable to any order:
    ``FibreProduct.apply(0, None, g, kernel)`` is the mix without its bias."""

    @staticmethod
    def forward(ctx, slot, u, g, kernel):
        ctx.slot = slot
        ctx.save_for_backward(u, g, kernel)
        return _fibre_partial(slot, u, g, kernel)

    @staticmethod
    def backward(ctx, upstream):
        operands = list(ctx.saved_tensors)
        operands[ctx.slot] = upstream.contiguous()
        grads: list[Tensor | None] = [None, None, None]
        for k in range(3):
            if k == ctx.slot or not ctx.needs_input_grad[1 + k]:
                continue
            args = [None if i == k else t for i, t in enumerate(operands)]
            if torch.is_grad_enabled():  # a graph is recorded (forces)
                grads[k] = FibreProduct.apply(k, *args)
            else:
                grads[k] = _fibre_partial(k, *args)
        return (None, *grads)


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
        dout = dout.contiguous()
        if torch.is_grad_enabled():  # create_graph (training on forces): a differentiable graph
            if need_g:
                dg = FibreProduct.apply(1, dout, None, kernel)
            if need_kernel:
                dkernel = FibreProduct.apply(2, dout, g, None)
        else:
            if need_g:
                dg = _fibre_partial(1, dout, None, kernel)
            if need_kernel:
                dkernel = _fibre_partial(2, dout, g, None)
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
    r"""``out[n, o, c] = sum_p kernel[o, p, c] g[n, p, c] (+ bias[c])``, in float32 under
    ``torch.autocast`` (a sum, as autocast keeps its own).

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
    return _under_autocast(_fibre_mix, g, kernel, bias, dtype=torch.float32)


def _fibre_mix(g: Tensor, kernel: Tensor, bias: Tensor | None) -> Tensor:
    if _NATIVE and g.shape[0] * g.shape[2] > 0 and native.fibre_usable(g, kernel, bias):
        return _NativeFibreMix.apply(g, kernel, bias)
    out = _bmm_fibre_mix(g, kernel)
    return out + bias if bias is not None else out
