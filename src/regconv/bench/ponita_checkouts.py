"""PONITA's two implementations by its author, from a user's checkout, as throughput references.

=================  ===================================================  =======================
name               repository                                          module
=================  ===================================================  =======================
``ponita``         github.com/ebekkers/ponita: the paper code, on      :mod:`.ponita_pyg`
                   PyTorch Geometric (``ponita/models/ponita.py``)
``ponita-torch``   github.com/ebekkers/ponita-torch: the author's      :mod:`.ponita_torch`
                   pure-torch rewrite (``models/ponita.py``)
=================  ===================================================  =======================

:func:`checkout_kind` tells them apart by their layout, so that a benchmark names the one it
ran; :func:`describe` adds the checkout's commit where it is a git work tree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from torch import nn

__all__ = ["IMPLEMENTATIONS", "build_reference", "checkout_kind", "describe"]

#: name -> where it comes from
IMPLEMENTATIONS = {
    "ponita": "github.com/ebekkers/ponita (paper code, PyTorch Geometric)",
    "ponita-torch": "github.com/ebekkers/ponita-torch (the author's pure-torch rewrite)",
}


def checkout_kind(checkout: str | Path) -> str:
    """``"ponita"`` or ``"ponita-torch"``: which implementation ``checkout`` holds.

    Raises ``ValueError`` when it has the layout of neither."""
    from regconv.bench import ponita_pyg, ponita_torch

    if ponita_pyg.is_checkout(checkout):
        return "ponita"
    if ponita_torch.is_checkout(checkout):
        return "ponita-torch"
    raise ValueError(
        f"{Path(checkout).expanduser()}: not a PONITA checkout (neither ponita/models/ponita.py, "
        "the layout of github.com/ebekkers/ponita, nor models/ponita.py, that of "
        "github.com/ebekkers/ponita-torch)"
    )


def describe(checkout: str | Path) -> dict[str, str | None]:
    """Which implementation ``checkout`` holds, where it comes from and its commit (``None``
    when the directory is not a git work tree or git is missing)."""
    kind = checkout_kind(checkout)
    root = Path(checkout).expanduser().resolve()
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip() or None  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"implementation": kind, "source": IMPLEMENTATIONS[kind], "checkout": str(root),
            "commit": commit}  # fmt: skip


def build_reference(name: str, checkout: str | Path, **size) -> tuple[nn.Module, dict]:
    """The implementation ``name`` from ``checkout`` at ``size`` (its own option names), and
    what it was built from (:func:`describe`, the size).

    Raises ``ValueError`` when ``checkout`` holds the other implementation."""
    if name not in IMPLEMENTATIONS:
        raise ValueError(f"unknown PONITA implementation {name!r}; known: {list(IMPLEMENTATIONS)}")
    kind = checkout_kind(checkout)
    if kind != name:
        raise ValueError(
            f"{checkout} holds {IMPLEMENTATIONS[kind]}, not {name}: name it {kind}:path={checkout}"
        )
    if name == "ponita":
        from regconv.bench.ponita_pyg import PonitaPyG as Model
    else:
        from regconv.bench.ponita_torch import PonitaTorch as Model
    model = Model(checkout, **size)
    return model, {**describe(checkout), **getattr(model, "info", {}), **size}
