r"""Atom-level output head of the edge-cloud models (DimeNet's output block)."""

from __future__ import annotations

from torch import Tensor, nn

from regconv.ops import scatter_sum


class AtomOutputBlock(nn.Module):
    r"""Gate every directed edge by its radial basis, sum onto the receiving atom, then an MLP
    per atom:

    .. math::
        a_i = \sum_{e = (j \to i)} (R\, e(d_e)) \odot h_e, \qquad
        o_i = W_{L+1}\, \sigma(W_L \cdots \sigma(W_1 U a_i + b_1) \cdots + b_L)

    ``e(d)`` is the radial basis times the cutoff envelope (so contributions vanish at the
    cutoff), ``U`` lifts ``C`` channels to ``out_channels`` and ``L`` = ``layers`` SiLU layers
    follow. Unlike :class:`regconv.nn.edge_output.EdgeOutputBlock` (an MLP per edge, then a sum),
    the non-linearity sees the whole neighbourhood of an atom at once; the output is an invariant
    per atom, so this head gives graph scalars only.

    Shapes:
        h ``[E, C]``; rbf ``[E, R]``; dst ``[E]``; num_nodes ``N`` -> ``[N, k]``.
    """

    def __init__(
        self, channels: int, rbf_dim: int, num_outputs: int, out_channels: int, layers: int = 3
    ) -> None:
        super().__init__()
        if out_channels < 1 or layers < 0:
            raise ValueError(f"need out_channels >= 1, layers >= 0; got {out_channels}, {layers}")
        self.rbf = nn.Linear(rbf_dim, channels, bias=False)
        self.up = nn.Linear(channels, out_channels, bias=False)
        body: list[nn.Module] = []
        for _ in range(layers):
            body += [nn.Linear(out_channels, out_channels), nn.SiLU()]
        self.mlp = nn.Sequential(*body)
        self.out = nn.Linear(out_channels, num_outputs, bias=False)

    def forward(self, h: Tensor, rbf: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
        atoms = scatter_sum(self.rbf(rbf) * h, dst, num_nodes)  # [N, C]
        return self.out(self.mlp(self.up(atoms)))  # [N, k]
