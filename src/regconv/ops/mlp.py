r"""The pointwise MLP of a ConvNeXt block, ``gamma * W2 gelu(W1 LayerNorm(x) + b1) + b2``, fused.

Evaluated in row chunks, and storing only its input ``x`` for the backward pass, which
recomputes the normalised input and the hidden layer chunk by chunk: the ``[rows, 4C]`` hidden
activations and the normalised copy (about 10 ``C``-wide rows per input row over a forward
pass) are never kept, at the price of the first matrix product once more in the backward
pass. Same arithmetic as the layer-by-layer evaluation up to the blocking of the matrix
products and ``gamma`` folded into the second layer's weights. The backward pass is written in
differentiable operations, so double backward (training on forces) works. Under
``torch.autocast`` the matrix products of both passes run in the autocast dtype (the backward
pass takes the forward pass's autocast state), the layer norm and the output in float32.

Also :func:`gelu_mlp2`, the two-layer GELU MLP of the kernel bases, ``[R, D] -> [R, K]``, chunked
over rows with its hidden activations recomputed in the backward pass (it stores its input only).
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

#: rows per chunk: at C 128 a chunk's [rows, 4C] hidden layer is 4 MiB, which stays in cache
#: between the two products (8,192 before release 0.5; see BENCHMARKS.md, "Release 0.5").
DEFAULT_MLP_CHUNK_ROWS = 2048


class _LayerNormMLP(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, ln_w, ln_b, w1, b1, w2, b2, gamma, eps, chunk_rows):
        c = x.shape[-1]
        flat = x.reshape(-1, c)
        out = flat.new_empty(flat.shape[0], w2.shape[0])
        w2g, b2g = _scaled(w2, b2, gamma)
        for a in range(0, flat.shape[0], chunk_rows):
            act = F.gelu(
                F.linear(F.layer_norm(flat[a : a + chunk_rows], (c,), ln_w, ln_b, eps), w1, b1)
            )
            rows = out[a : a + chunk_rows]
            if act.dtype == rows.dtype == w2g.dtype:
                torch.addmm(b2g, act, w2g.t(), out=rows)  # written in place
            else:  # autocast: the product in its lower precision, cast into the output
                rows.copy_(F.linear(act, w2g, b2g))
        ctx.save_for_backward(x, ln_w, ln_b, w1, b1, w2, b2, gamma)
        ctx.eps, ctx.chunk_rows, ctx.autocast = eps, chunk_rows, _autocast_state(x)
        return out.view(*x.shape[:-1], w2.shape[0])

    @staticmethod
    def backward(ctx, dout):
        # under the forward pass's autocast (``backward()`` usually runs outside it)
        with _autocast(ctx.autocast):
            return _LayerNormMLP._backward(ctx, dout)

    @staticmethod
    def _backward(ctx, dout):
        x, ln_w, ln_b, w1, b1, w2, b2, gamma = ctx.saved_tensors
        eps, chunk = ctx.eps, ctx.chunk_rows
        need = ctx.needs_input_grad
        c = x.shape[-1]
        flat = x.reshape(-1, c)
        dflat = dout.reshape(-1, dout.shape[-1])
        dx = torch.empty_like(flat) if need[0] else None
        dln_w = torch.zeros_like(ln_w) if ln_w is not None else None
        dln_b = torch.zeros_like(ln_b) if ln_b is not None else None
        dw1, db1 = torch.zeros_like(w1), torch.zeros_like(b1)
        dw2, db2 = torch.zeros_like(w2), torch.zeros_like(b2)
        dgamma = torch.zeros_like(gamma) if gamma is not None else None
        w2g = _scaled(w2, b2, gamma)[0]  # differentiable ops (double backward)
        for a in range(0, flat.shape[0], chunk):
            xc = flat[a : a + chunk]
            xn, mean, rstd = torch.native_layer_norm(xc, (c,), ln_w, ln_b, eps)
            z = F.linear(xn, w1, b1)
            act = F.gelu(z)
            g = dflat[a : a + chunk]
            m = g.t() @ act  # [C_out, H]
            gsum = g.sum(0)
            if gamma is not None:
                # d gamma_c = sum_r g_rc h_rc with h = act w2^T + b2, i.e. the row sums of
                # w2 * (g^T act) plus b2 * sum_r g: no second product with w2 for it.
                dgamma = dgamma + (w2 * m).sum(1) + b2 * gsum
                dw2 = dw2 + gamma.unsqueeze(1) * m
                db2 = db2 + gamma * gsum
            else:
                dw2 = dw2 + m
                db2 = db2 + gsum
            dz = torch.ops.aten.gelu_backward(g @ w2g, z)  # (g * gamma) @ w2
            dw1 = dw1 + dz.t() @ xn
            db1 = db1 + dz.sum(0)
            dxn = (dz @ w1).to(xc.dtype)  # autocast: the product's dtype
            dxc, dlw, dlb = torch.ops.aten.native_layer_norm_backward(
                dxn, xc, (c,), mean, rstd, ln_w, ln_b, [need[0], ln_w is not None, ln_b is not None]
            )
            if need[0]:
                dx[a : a + chunk] = dxc
            if dln_w is not None:
                dln_w = dln_w + dlw
            if dln_b is not None:
                dln_b = dln_b + dlb
        dx = dx.view_as(x) if dx is not None else None
        return dx, dln_w, dln_b, dw1, db1, dw2, db2, dgamma, None, None


def _autocast_state(x: Tensor) -> tuple[str, torch.dtype] | None:
    """``(device type, dtype)`` of the autocast enabled for ``x``'s device, or None."""
    device = x.device.type
    return (device, torch.get_autocast_dtype(device)) if torch.is_autocast_enabled(device) else None


def _autocast(state: tuple[str, torch.dtype] | None):
    """The autocast of :func:`_autocast_state`; no change to the current state for None."""
    if state is None:
        return contextlib.nullcontext()
    return torch.autocast(state[0], dtype=state[1])


def _scaled(w2: Tensor, b2: Tensor, gamma: Tensor | None) -> tuple[Tensor, Tensor]:
    """``(gamma * w2, gamma * b2)``: the output scale folded into the second layer."""
    if gamma is None:
        return w2, b2
    return gamma.unsqueeze(1) * w2, gamma * b2


def layer_norm_mlp(
    x: Tensor,
    norm: torch.nn.LayerNorm,
    lin1: torch.nn.Linear,
    lin2: torch.nn.Linear,
    gamma: Tensor | None = None,
    chunk_rows: int = DEFAULT_MLP_CHUNK_ROWS,
) -> Tensor:
    r"""``gamma * lin2(gelu(lin1(norm(x))))`` (``gamma`` optional), fused and chunked.

    Shapes:
        x ``[*, C]`` -> ``[*, C_out]``.
    """
    if len(norm.normalized_shape) != 1 or norm.normalized_shape[0] != x.shape[-1]:
        raise ValueError(
            f"norm must normalise the last dimension {x.shape[-1]}, got {norm.normalized_shape}"
        )
    if lin1.bias is None or lin2.bias is None:
        raise ValueError("layer_norm_mlp needs Linear layers with biases")
    return _LayerNormMLP.apply(
        x,
        norm.weight,
        norm.bias,
        lin1.weight,
        lin1.bias,
        lin2.weight,
        lin2.bias,
        gamma,
        float(norm.eps),
        int(chunk_rows),
    )


class _GeluMLP2(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, chunk_rows):
        out = x.new_empty(x.shape[0], w2.shape[0])
        for a in range(0, x.shape[0], chunk_rows):
            h = F.gelu(F.linear(x[a : a + chunk_rows], w1, b1))
            out[a : a + chunk_rows] = F.gelu(F.linear(h, w2, b2))
        ctx.save_for_backward(x, w1, b1, w2, b2)
        ctx.chunk_rows = chunk_rows
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, dout):
        x, w1, b1, w2, b2 = ctx.saved_tensors
        need_x = ctx.needs_input_grad[0]
        dx = torch.empty_like(x) if need_x else None
        dw1, db1 = torch.zeros_like(w1), torch.zeros_like(b1)
        dw2, db2 = torch.zeros_like(w2), torch.zeros_like(b2)
        for a in range(0, x.shape[0], ctx.chunk_rows):
            xc = x[a : a + ctx.chunk_rows]
            z1 = F.linear(xc, w1, b1)
            h = F.gelu(z1)
            z2 = F.linear(h, w2, b2)
            dz2 = torch.ops.aten.gelu_backward(dout[a : a + ctx.chunk_rows], z2)
            dw2 = dw2 + dz2.t() @ h
            db2 += dz2.sum(0)
            dz1 = torch.ops.aten.gelu_backward(dz2 @ w2, z1)
            dw1 = dw1 + dz1.t() @ xc
            db1 += dz1.sum(0)
            if need_x:
                dx[a : a + ctx.chunk_rows] = dz1 @ w1
        return dx, dw1, db1, dw2, db2, None


def gelu_mlp2(
    x: Tensor,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
    chunk_rows: int = DEFAULT_MLP_CHUNK_ROWS,
) -> Tensor:
    r"""``gelu(gelu(x w1^T + b1) w2^T + b2)`` in row chunks, storing only ``x`` for backward.

    The same arithmetic as the layer-by-layer evaluation (up to the blocking of the matrix
    products); once differentiable (use the plain layers when ``x`` needs a gradient of order 2).

    Shapes:
        x ``[R, D]``; w1 ``[H, D]``; b1 ``[H]``; w2 ``[K, H]``; b2 ``[K]`` -> ``[R, K]``.
    """
    return _GeluMLP2.apply(x, w1, b1, w2, b2, int(chunk_rows))
