r"""The fibre step of a separable group convolution: a convolution over the fibre, then the bias.

.. math::
    f'_c(x_i, o) = \frac{1}{O} \sum_{p} k^{fib}_c(a_{op})\, g_c(x_i, p) + b_c

with ``k^fib = W_fib b^fib`` a per-layer linear map of the shared fibre kernel basis ``b^fib``
(an MLP of the fibre invariants ``a_{op}``, e.g. ``n_o . n_p``). Shared by every separable
convolution (:class:`regconv.nn.SeparableGroupConv`, :class:`regconv.nn.AttentionGroupConv`);
the weights stay attributes of the convolution, so its ``state_dict`` keys are its own.
"""

from __future__ import annotations

from torch import Tensor, nn

from regconv.ops import fibre_mix

__all__ = ["fibre_step"]


def fibre_step(
    g: Tensor, fibre: nn.Linear | None, fibre_basis: Tensor | None, bias: Tensor | None
) -> Tensor:
    """Convolve ``g`` over the fibre with the kernel ``fibre(fibre_basis)`` (when the layer has
    one), then add ``bias`` (when given).

    Computed by :func:`regconv.ops.fibre_mix` (native kernels on CPUs, one product per channel
    elsewhere), the bias added in the same pass.

    Shapes:
        g ``[N, O, C]``; fibre ``Linear(K_f, C)`` or None; fibre_basis ``[O, O, K_f]`` or None;
        bias ``[C]`` or None -> ``[N, O, C]``.
    """
    if fibre is not None:
        if fibre_basis is None:
            raise ValueError("this convolution has a fibre kernel: pass fibre_basis")
        fibre_kernel = fibre(fibre_basis)  # [O, P, C]
        # the 1/O of the fibre average on the small kernel (exact when O is a power of two)
        return fibre_mix(g, fibre_kernel / fibre_kernel.shape[1], bias)  # [N, O, C]
    if bias is not None:
        g = g + bias
    return g
