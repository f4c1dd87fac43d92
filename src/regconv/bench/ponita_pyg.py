"""PONITA's paper code (github.com/ebekkers/ponita, on PyTorch Geometric; a user's checkout) as a
throughput reference, by the name ``ponita``.

::

    python -m regconv.bench throughput --models r3s2 --ponita ~/src/ponita

Nothing of it is vendored or installed: the checkout's directory is put on
``sys.path`` for this process only. The paper code imports ``torch_scatter`` (a compiled
extension without wheels here) for one function, ``scatter_mean``; where the import fails, a
stand-in module providing ``scatter_mean`` in plain torch is registered under that name first
(:func:`import_ponita`), and the record says so. Its transforms define ``__call__`` where newer
PyG's ``BaseTransform`` declares an abstract ``forward``; they are given ``forward = __call__``
(same code, no change of behaviour). Its convolutions print a line when they calibrate on the
first training call; the print goes to stderr here, so that the benchmark's records on stdout
stay JSON.

:class:`PonitaPyG` builds its ``PonitaFiberBundle`` at the size of its QM9 runs
(hidden 128, 5 layers, 16 orientations, basis 256, its degree 3, widening 4, no layer scale,
one readout) and feeds it regconv's QM9 batches: 11 input channels (one-hot of H C N O F in the
first five, as its QM9 features' width), the complete graph of each molecule (its transform
adds the self-loops), built inside ``forward`` as regconv's models build theirs.
"""

from __future__ import annotations

import contextlib
import sys
import types
from pathlib import Path

from torch import Tensor, nn

from regconv.bench.ponita_inputs import ElementOneHot, take_shapes

__all__ = ["PonitaPyG", "import_ponita", "is_checkout"]

QM9_INPUTS = 11


def _scatter_mean(src: Tensor, index: Tensor, dim: int = 0, dim_size: int | None = None, **_):
    from regconv.ops import scatter_mean

    if dim not in (0, -src.dim()):
        raise NotImplementedError("the stand-in scatter_mean reduces over dim 0 only")
    size = int(index.max()) + 1 if dim_size is None else dim_size
    return scatter_mean(src, index, size)


def is_checkout(checkout: str | Path) -> bool:
    """Whether ``checkout`` has the layout of github.com/ebekkers/ponita."""
    return (Path(checkout).expanduser() / "ponita" / "models" / "ponita.py").is_file()


def import_ponita(checkout: str | Path) -> dict[str, object]:
    """Make ``import ponita`` load the checkout at ``checkout``; returns what was done
    (``{"checkout": ..., "torch_scatter": "installed" | "plain-torch stand-in"}``).

    Raises ``ValueError`` if ``checkout`` has no ``ponita/models/ponita.py`` (the layout of
    github.com/ebekkers/ponita)."""
    root = Path(checkout).expanduser().resolve()
    if not is_checkout(root):
        raise ValueError(
            f"{root}: not a checkout of PONITA's paper code (no ponita/models/ponita.py, the "
            "layout of github.com/ebekkers/ponita)"
        )
    try:
        import torch_scatter

        stand_in = getattr(torch_scatter, "REGCONV_STAND_IN", False)
        scatter = "plain-torch stand-in" if stand_in else "installed"
    except ImportError:
        stand_in = types.ModuleType("torch_scatter")
        stand_in.scatter_mean = _scatter_mean
        stand_in.REGCONV_STAND_IN = True
        sys.modules["torch_scatter"] = stand_in
        scatter = "plain-torch stand-in"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    # its transforms define __call__; PyG >= 2.4's BaseTransform declares an abstract forward
    import ponita.transforms as transforms

    opened = []
    for name in ("PositionOrientationGraph", "SEnInvariantAttributes", "RandomRotate"):
        cls = getattr(transforms, name, None)
        if cls is not None and getattr(cls, "__abstractmethods__", None):
            cls.forward = cls.__call__
            cls.__abstractmethods__ = frozenset()
            cls.REGCONV_GIVEN_FORWARD = True
        if cls is not None and getattr(cls, "REGCONV_GIVEN_FORWARD", False):
            opened.append(name)
    return {"checkout": str(root), "torch_scatter": scatter, "transforms_given_forward": opened}


class PonitaPyG(nn.Module):
    """The paper code's ``PonitaFiberBundle`` on a regconv batch; returns ``[B, 1]``.

    Args:
        checkout: path of a checkout of github.com/ebekkers/ponita.
        hidden, layers, num_ori, basis_dim, degree: its size (its own option names and counting).
    """

    def __init__(
        self,
        checkout: str | Path,
        *,
        hidden: int = 128,
        layers: int = 5,
        num_ori: int = 16,
        basis_dim: int = 256,
        degree: int = 3,
    ) -> None:
        super().__init__()
        self.info = import_ponita(checkout)
        from ponita.models.ponita import Ponita

        self.model = Ponita(
            QM9_INPUTS, hidden, 1, layers, output_dim_vec=0, radius=None, num_ori=num_ori,
            basis_dim=basis_dim, degree=degree, widening_factor=4, layer_scale=None,
            task_level="graph", multiple_readouts=False, lift_graph=True,
        )  # fmt: skip
        self.inputs = ElementOneHot(QM9_INPUTS)
        take_shapes(self, self.model)

    def forward(self, batch) -> Tensor:
        """``[B, 1]`` from a batch with ``z [N]``, ``pos [N, 3]``, ``batch [N]``."""
        from torch_geometric.data import Data

        from regconv.graph import full_graph

        x = self.inputs(batch.z, batch.pos.dtype)  # [N, width]
        graph = Data(x=x, pos=batch.pos, batch=batch.batch, edge_index=full_graph(batch.batch))
        with contextlib.redirect_stdout(sys.stderr):  # its one-time calibration prints
            out, _ = self.model(graph)  # [B, 1]
        return out
