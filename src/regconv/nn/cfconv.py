r"""SchNet's interaction block around a continuous-filter convolution (linear in the features)."""

from __future__ import annotations

from dataclasses import replace

from torch import Tensor, nn

from regconv.kernels import TabulatedBasis
from regconv.nn.activation import ShiftedSoftplus
from regconv.nn.conv import SeparableGroupConv


class CFConvInteraction(nn.Module):
    r"""Atom-wise linear -> continuous-filter convolution -> dense, shifted softplus, dense ->
    residual:

    .. math::
        x_j = W_{in} h_j, \qquad
        m_i = \sum_{j \in \mathcal{N}(i)} W(d_{ij}) \odot x_j, \qquad
        h_i \leftarrow h_i + W_2\, \mathrm{ssp}(W_1 m_i + b_1) + b_2

    with the filter :math:`W(d) = u(d)\,(V_2\, \mathrm{ssp}(V_1 e(d) + c_1))` of the radial
    basis ``e(d)`` and the cutoff envelope ``u(d)``. The message is linear in the sender's
    features (the convolution is :class:`regconv.nn.SeparableGroupConv` on R^3 with a trivial
    fibre); the non-linearity is pointwise, after aggregation.

    Difference from SchNet: the filter's last dense layer has no bias (the envelope multiplies
    its input, which is then the same as multiplying the filter).

    ``rbf`` may also be a :class:`regconv.kernels.TabulatedBasis` of the radial basis at the nodes
    of a distance grid (values ``[G, R]``, the envelope folded into its weights): the filter
    network then runs on the ``G`` nodes only and every edge reads its filter by linear
    interpolation (see :mod:`regconv.kernels.table`).

    Shapes:
        h ``[N, C]``; edge_index ``[2, E]``; rbf ``[E, R]`` (or tabulated); envelope ``[E, 1]``
        or None -> ``[N, C]``.
    """

    def __init__(self, channels: int, rbf_dim: int, filters: int) -> None:
        super().__init__()
        self.filter_net = nn.Sequential(nn.Linear(rbf_dim, filters), ShiftedSoftplus())
        self.conv = SeparableGroupConv(filters, filters, bias=False)
        self.lin_in = nn.Linear(channels, filters, bias=False)
        self.lin_out = nn.Sequential(
            nn.Linear(filters, channels), ShiftedSoftplus(), nn.Linear(channels, channels)
        )

    def forward(
        self, h: Tensor, edge_index: Tensor, rbf: Tensor, envelope: Tensor | None = None
    ) -> Tensor:
        if isinstance(rbf, TabulatedBasis):
            if envelope is not None:
                raise ValueError("a tabulated basis carries its envelope in its weights")
            basis = replace(rbf, values=self.filter_net(rbf.values))  # [G, F] at the nodes
        else:
            basis = self.filter_net(rbf)  # [E, F]
            if envelope is not None:
                basis = basis * envelope
            basis = basis.unsqueeze(1)  # [E, 1, F]
        x = self.lin_in(h).unsqueeze(1)  # [N, 1, F]
        m = self.conv(x, edge_index, basis)[:, 0]  # [N, F]
        return h + self.lin_out(m)
