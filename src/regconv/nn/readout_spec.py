r"""The readout component of the fibre models: how :class:`regconv.models.FibreNet` turns its
last features (or every block's) into the task's outputs.

A model option ``readout`` is a :class:`ReadoutSpec` or a mapping ``{"pooling": "mean",
"hidden": 64, "all_layers": False}`` (``kind`` defaults to ``"fibre"``, the one kind of
:data:`READOUTS`; a new readout is a subclass and one entry there).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from regconv.nn.edge_vector_readout import EdgeVectorReadout
from regconv.nn.readout import POOLINGS, FibreVectorReadout, GraphScalarReadout
from regconv.spaces import FibreSpace
from regconv.utils.checks import check_bool, check_choice, check_int
from regconv.utils.components import build_component

__all__ = ["READOUTS", "ReadoutSpec", "build_readout"]


@dataclass(frozen=True)
class ReadoutSpec:
    r"""Graph outputs: :class:`regconv.nn.GraphScalarReadout` (``pooling`` ``"sum"``, ``"mean"``
    or ``"attention"``; ``hidden = H > 0`` reads each (atom, orientation) through a SiLU MLP of
    width ``H``). Node vectors: projected from the fibre (:class:`regconv.nn.FibreVectorReadout`)
    or, on a fibre that holds no vector (R^3), built from the edge vectors
    (:class:`regconv.nn.EdgeVectorReadout`); they take neither ``pooling`` nor ``hidden``.
    ``all_layers`` reads every block's output (each through its own LayerNorm, concatenated),
    not only the last.
    """

    pooling: str = "sum"
    hidden: int = 0
    all_layers: bool = False

    def __post_init__(self) -> None:
        check_choice("readout.pooling", self.pooling, POOLINGS)
        check_int("readout.hidden", self.hidden, minimum=0)
        check_bool("readout.all_layers", self.all_layers)

    def layer_norms(self, channels: int, layers: int) -> nn.ModuleList | None:
        """The LayerNorms of the blocks before the last (whose norm the model always has)."""
        if not self.all_layers:
            return None
        return nn.ModuleList(nn.LayerNorm(channels) for _ in range(layers - 1))

    def head(
        self, output: str, *, channels: int, layers: int, num_outputs: int, space: FibreSpace,
        basis_dim: int, vector_in: int,
    ) -> nn.Module:  # fmt: skip
        """The output head of a model of ``layers`` blocks of ``channels`` on ``space``
        (``ValueError`` for graph-only options with ``output="node_vector"``)."""
        width = channels * layers if self.all_layers else channels
        if output == "graph":
            return GraphScalarReadout(width, num_outputs, self.pooling, self.hidden)
        if self.pooling != "sum" or self.hidden:
            raise ValueError("readout.pooling and readout.hidden apply to output='graph' only")
        if space.vector_components == 0:
            return EdgeVectorReadout(width, basis_dim, num_outputs, vector_in)
        return FibreVectorReadout(width, num_outputs, space.vector_components)


#: the readouts a spec can name, by ``kind``
READOUTS: dict[str, type[ReadoutSpec]] = {"fibre": ReadoutSpec}


def build_readout(spec: ReadoutSpec | Mapping[str, Any] | None) -> ReadoutSpec:
    """The readout component of ``spec`` (None: the defaults of :class:`ReadoutSpec`)."""
    return build_component(
        "readout", {} if spec is None else spec, READOUTS, ReadoutSpec, default="fibre"
    )
