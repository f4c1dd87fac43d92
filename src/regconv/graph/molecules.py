r"""A batch of molecules in plain torch, for prediction and molecular dynamics.

What the models read from a batch is ``pos [N, 3]``, ``z [N]``, ``batch [N]`` (the graph of
each node, sorted) and ``num_graphs``; PyTorch Geometric's ``Batch`` carries these and much
more, and importing it costs seconds of start-up (it pulls ``torch._dynamo`` and its dataset
modules). :class:`MoleculeBatch` carries only what inference needs and behaves like a PyG batch
where the models, :func:`regconv.graph.transform_batch` and the energy + force code look:
attributes, ``keys()``, ``clone()``, ``to()``.

Training keeps PyG's ``Batch`` (its loaders and collation of targets); both kinds of batch give
the same predictions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["MoleculeBatch"]


class MoleculeBatch:
    """Molecules as one disconnected graph.

    Args:
        z: ``[N]`` atomic numbers (long).
        pos: ``[N, 3]`` positions.
        batch: ``[N]`` graph of each node, non-decreasing, in ``0 .. num_graphs - 1``.
        num_graphs: ``B``.

    Further tensors (``x``, ``vec``, ...) may be set as attributes.

    Shapes:
        z ``[N]``, pos ``[N, 3]``, batch ``[N]``, ptr ``[B + 1]``.
    """

    def __init__(self, z: Tensor, pos: Tensor, batch: Tensor, num_graphs: int) -> None:
        if pos.dim() != 2 or pos.shape[1] != 3 or z.shape != pos.shape[:1]:
            raise ValueError(f"need z [N], pos [N, 3]; got {tuple(z.shape)}, {tuple(pos.shape)}")
        if batch.shape != z.shape or batch.dtype != torch.long:
            raise ValueError(f"batch must be [N] = [{z.shape[0]}] long, got {tuple(batch.shape)}")
        self.z, self.pos, self.batch = z, pos, batch
        self.num_graphs = int(num_graphs)

    @classmethod
    def from_molecules(
        cls,
        molecules: Sequence[tuple[Tensor, Tensor]],
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> MoleculeBatch:
        """The batch of ``(z [n], pos [n, 3])`` pairs, in order."""
        if not molecules:
            raise ValueError("no molecules to batch")
        for i, (z_i, pos_i) in enumerate(molecules):
            if len(z_i) != len(pos_i):
                raise ValueError(f"molecule {i}: {len(z_i)} atomic numbers, {len(pos_i)} positions")
        z = torch.cat([torch.as_tensor(m[0], dtype=torch.long) for m in molecules])
        pos = torch.cat([torch.as_tensor(m[1], dtype=dtype) for m in molecules])
        sizes = torch.tensor([len(m[0]) for m in molecules])
        batch = torch.repeat_interleave(torch.arange(len(molecules)), sizes)
        out = cls(z, pos, batch, len(molecules))
        return out if device is None else out.to(device)

    @property
    def ptr(self) -> Tensor:
        """``[B + 1]`` offsets of the graphs' nodes."""
        counts = torch.bincount(self.batch, minlength=self.num_graphs)
        return torch.cat([counts.new_zeros(1), counts.cumsum(0)])

    @property
    def num_nodes(self) -> int:
        return int(self.pos.shape[0])

    def keys(self) -> list[str]:
        """Names of the tensor attributes (as PyG's ``Batch.keys()``)."""
        return [k for k, v in vars(self).items() if isinstance(v, Tensor)]

    def _apply(self, fn) -> MoleculeBatch:
        out = object.__new__(type(self))
        for k, v in vars(self).items():
            setattr(out, k, fn(v) if isinstance(v, Tensor) else v)
        return out

    def clone(self) -> MoleculeBatch:
        """A copy with cloned tensors."""
        return self._apply(lambda t: t.clone())

    def to(self, *args, **kwargs) -> MoleculeBatch:
        """A copy on another device (``to("cuda")``, ``to(device=...)``); floating tensors also
        take a given dtype, integer ones keep theirs. Unlike PyG's ``Batch.to`` (in place, no
        dtype) it returns a new batch."""
        device = _device(args, kwargs)
        return self._apply(
            lambda t: t.to(*args, **kwargs) if t.is_floating_point() else t.to(device=device)
        )

    def __repr__(self) -> str:
        return f"MoleculeBatch(num_graphs={self.num_graphs}, num_nodes={self.num_nodes})"


def _device(args: tuple, kwargs: dict):
    if "device" in kwargs:
        return kwargs["device"]
    for a in args:
        if isinstance(a, (str, torch.device)):
            return a
    return None
