"""ctypes bindings of the depthwise fibre mixing (``fibre_mix.cpp``)."""

from __future__ import annotations

import ctypes

import torch
from torch import Tensor

from regconv.ops.native._build import load
from regconv.ops.native._build import pointer as _p

_SUFFIX = {torch.float32: "f32", torch.float64: "f64"}


def fibre_usable(*tensors: Tensor | None) -> bool:
    """Whether the native fibre kernels take these operands (and are available)."""
    present = [t for t in tensors if t is not None]
    return (
        all(t.device.type == "cpu" and t.dtype == present[0].dtype for t in present)
        and present[0].dtype in _SUFFIX
        and not torch.compiler.is_compiling()
        and load() is not None
    )


def fibre_forward(g: Tensor, kernel: Tensor, bias: Tensor | None) -> Tensor:
    """``out[n, o] = sum_p kernel[o, p] * g[n, p] (+ bias)``, channel by channel.

    Shapes:
        g ``[N, P, C]``; kernel ``[O, P, C]``; bias ``[C]`` or None -> ``[N, O, C]``.
    """
    n, p, c = g.shape
    o = kernel.shape[0]
    g, kernel = g.contiguous(), kernel.contiguous()
    bias = bias.contiguous() if bias is not None else None
    out = g.new_empty(n, o, c)
    fn = getattr(load(), f"regconv_fibre_mix_{_SUFFIX[g.dtype]}")
    fn(_p(g), _p(kernel), _p(bias), _p(out), ctypes.c_int64(n), ctypes.c_int64(o),
       ctypes.c_int64(p), ctypes.c_int64(c), ctypes.c_int(torch.get_num_threads()))  # fmt: skip
    return out


def fibre_kernel_grad(g: Tensor, dout: Tensor) -> Tensor:
    """``dk[o, p] = sum_n dout[n, o] * g[n, p]``, channel by channel.

    Shapes:
        g ``[N, P, C]``; dout ``[N, O, C]`` -> ``[O, P, C]``.
    """
    n, p, c = g.shape
    o = dout.shape[1]
    g, dout = g.contiguous(), dout.contiguous()
    threads = torch.get_num_threads()
    private = g.new_empty(threads, o, p, c)  # one accumulator per thread
    fn = getattr(load(), f"regconv_fibre_kernel_grad_{_SUFFIX[g.dtype]}")
    fn(_p(g), _p(dout), _p(private), ctypes.c_int64(n), ctypes.c_int64(o), ctypes.c_int64(p),
       ctypes.c_int64(c), ctypes.c_int(threads))  # fmt: skip
    return private[0] if threads == 1 else private.sum(0)
