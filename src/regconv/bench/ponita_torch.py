"""The author's pure-torch rewrite of PONITA (github.com/ebekkers/ponita-torch, a user's checkout)
as a throughput reference, by the name ``ponita-torch``.

::

    python -m regconv.bench throughput --models r3s2 --ponita ~/src/ponita-torch

Nothing of it is vendored or installed: its model file ``models/ponita.py`` (plain torch, no
PyG, no compiled extension) is loaded from the checkout under a private module name, so that
its generic package name ``models`` never enters ``sys.modules``.

:class:`PonitaTorch` builds its ``Ponita`` (the fibre-bundle method, the only one the rewrite
has) at the benchmark's PONITA size (hidden 128, 5 layers, 16 orientations, basis 256, degree 3,
widening 4, no layer scale, one readout) and feeds it regconv's QM9 batches: the one-hot of
H, C, N, O, F (its QM9 features), and the complete graph of each molecule without self-loops,
the graph ``r3s2`` runs at this config (its own QM9 loader passes the bond graph; the complete
graph makes both models do the same work per molecule). Its convolutions rescale their weights
on the first training call and print a line then; the print goes to stderr here, so that the
benchmark's records on stdout stay JSON.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import sys
import types
from pathlib import Path

from torch import Tensor, nn

from regconv.bench.ponita_inputs import ELEMENT_SLOT, ElementOneHot, take_shapes

__all__ = ["PonitaTorch", "is_checkout", "load_ponita_torch"]

MODEL_FILE = Path("models") / "ponita.py"


def is_checkout(checkout: str | Path) -> bool:
    """Whether ``checkout`` has the layout of github.com/ebekkers/ponita-torch: a
    ``models/ponita.py`` that defines ``class Ponita`` (some commits of the paper code have a
    ``models/ponita.py`` with ``class PONITA`` and imports of its own package: not this)."""
    root = Path(checkout).expanduser()
    model = root / MODEL_FILE
    if not model.is_file() or (root / "ponita" / "models").is_dir():
        return False
    return re.search(r"^class Ponita\(", model.read_text(errors="replace"), re.M) is not None


def load_ponita_torch(checkout: str | Path) -> types.ModuleType:
    """The checkout's ``models/ponita.py`` as a module (loaded once per checkout and process).

    Raises ``ValueError`` if ``checkout`` has no ``models/ponita.py`` defining ``Ponita``."""
    root = Path(checkout).expanduser().resolve()
    if not is_checkout(root):
        raise ValueError(
            f"{root}: not a ponita-torch checkout (no {MODEL_FILE}, the layout of "
            "github.com/ebekkers/ponita-torch)"
        )
    name = f"_regconv_ponita_torch_{abs(hash(str(root))):x}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, root / MODEL_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as e:  # it needs a package this environment lacks
        del sys.modules[name]
        raise ValueError(f"{root / MODEL_FILE} does not import here: {e}") from e
    except Exception:
        del sys.modules[name]
        raise
    if not isinstance(getattr(module, "Ponita", None), type):
        del sys.modules[name]
        raise ValueError(f"{root / MODEL_FILE}: defines no class Ponita")
    return module


class PonitaTorch(nn.Module):
    """ponita-torch's ``Ponita`` on a regconv batch; returns ``[B, 1]``.

    Args:
        checkout: path of a ponita-torch checkout.
        hidden, layers, num_ori, basis_dim, degree: its size (its own option names and counting).

    Shapes:
        - input: a batch with ``z [N]``, ``pos [N, 3]``, ``batch [N]`` (sorted)
        - output: ``[B, 1]``
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
        module = load_ponita_torch(checkout)
        self.info = {"checkout": str(Path(checkout).expanduser().resolve())}
        self.model = module.Ponita(
            len(ELEMENT_SLOT), hidden, 1, layers, output_dim_vec=0, dim=3, num_ori=num_ori,
            basis_dim=basis_dim, degree=degree, widening_factor=4, layer_scale=None,
            task_level="graph", multiple_readouts=False,
        )  # fmt: skip
        self.inputs = ElementOneHot(len(ELEMENT_SLOT))
        take_shapes(self, self.model)

    def forward(self, batch) -> Tensor:
        """``[B, 1]`` from a batch with ``z [N]``, ``pos [N, 3]``, ``batch [N]``."""
        from regconv.graph import full_graph

        x = self.inputs(batch.z, batch.pos.dtype)  # [N, width]
        edge_index = full_graph(batch.batch)  # [2, E], row 0 the source j, as its convention
        with contextlib.redirect_stdout(sys.stderr):  # its one-time calibration prints
            out, _ = self.model(x, batch.pos, edge_index, batch.batch)
        return out  # [B, 1]
