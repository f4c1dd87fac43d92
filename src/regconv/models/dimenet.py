"""``dimenet``: directional message passing (DimeNet / DimeNet++, Gasteiger et al. 2020) on the
edge cloud of R^3 x S^2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from regconv.kernels import Envelope
from regconv.models.contract import Output
from regconv.models.directional_net import DirectionalNet


class DimeNet(DirectionalNet):
    r"""DimeNet(++) with regconv's layers: features on directed edges, messages between edges that
    meet at an atom, kernels on distance x bond angle.

    - **Space**: R^3 x S^2 as the edge cloud (:class:`regconv.spaces.R3S2Edge`): edge
      ``k -> j`` is the point ``(x_k, n_kj)``. For a message from edge ``a = (k -> j)`` to
      ``b = (j -> i)`` the complete pair invariants reduce to ``d_kj`` and the angle
      ``angle_kji`` — exactly DimeNet's conditioning. Orientations come from the data, so the model
      is exactly E(3)-invariant (E(3)-equivariant for vector outputs).
    - **Kernel**: non-linear in the features (DimeNet++'s Hadamard interaction,
      :class:`regconv.nn.directional.DirectionalInteraction`): ``sigma(D(sigma(W h_a) ⊙ R e(d_a)))``
      multiplied by the triplet kernel ``S t_ab`` and summed onto ``b`` (a
      :class:`regconv.nn.SeparableGroupConv` on the edge cloud), then combined with ``b``'s own
      features through residual MLPs.
    - **Conditions on**: edge embedding on ``(z_k, z_j, e(d_kj))``; triplet basis ``t_ab`` = Bessel
      radial ``e_n(d_kj)`` (times the cosine envelope) ⊗ Legendre ``P_l(cos angle_kji)``
      (``num_radial x num_spherical`` functions). Compare ``r3s2-edge``: there the kernel is a
      learned MLP basis of ``(d_kj, d_ji, cos)`` inside ConvNeXt blocks and a depthwise linear
      conv; here the basis is fixed radial x angular and the message a bilinear/Hadamard product.
    - **Readout**: an output block after the embedding and after every interaction (summed, as
      DimeNet): per-edge ``k`` numbers times the envelope, summed onto graphs; node vectors are
      ``v_i = sum_{e = (j -> i)} o_e n_e``.

    Differences from the paper: the angular-radial basis is a plain product ``j_0(z_n d/c) P_l``
    (DimeNet uses spherical Bessel functions ``j_l`` with order-dependent roots times ``Y_l^0``);
    envelope is the cosine cutoff (DimeNet: polynomial); Hadamard interaction for both (DimeNet
    proper uses a bilinear layer); output MLP per edge before the sum onto atoms; no basis
    embedding bottleneck.

    Args:
        num_outputs, output, in_features, vector_in, max_z: as :class:`regconv.models.FibreNet`.
        hidden: edge-feature channels ``C``; layers: number of interaction blocks.
        int_channels: width of the triplet interaction (``hidden // 2`` when None).
        num_radial: Bessel functions; num_spherical: Legendre polynomials.
        cutoff: radius graph cutoff (None = fully connected; the radial basis then spans 10).
        envelope: the cutoff envelope (None: the cosine), as :class:`regconv.models.FibreNet`'s.
        output_block: ``"edge"`` (an MLP per edge, summed; also gives node vectors) or ``"atom"``
            (DimeNet's: radial-gated edges summed onto atoms, then a 3-layer SiLU MLP of width
            ``out_channels`` per atom, :class:`regconv.nn.atom_output.AtomOutputBlock`; graph
            outputs only).
        out_channels: width of the atom heads (``2 * hidden`` when None).
    """

    def __init__(
        self,
        num_outputs: int = 1,
        output: Output = "graph",
        in_features: int = 0,
        vector_in: int = 0,
        *,
        hidden: int = 128,
        layers: int = 4,
        int_channels: int | None = None,
        num_radial: int = 6,
        num_spherical: int = 7,
        cutoff: float | None = 5.0,
        envelope: Envelope | Mapping[str, Any] | None = None,
        max_z: int = 9,
        output_block: str = "edge",
        out_channels: int | None = None,
    ) -> None:
        super().__init__(
            num_outputs=num_outputs, output=output, in_features=in_features, vector_in=vector_in,
            hidden=hidden, layers=layers, int_channels=int_channels, num_radial=num_radial,
            num_spherical=num_spherical, cutoff=cutoff, envelope=envelope, max_z=max_z,
            torsion=None,
            output_block=output_block, out_channels=out_channels,
        )
