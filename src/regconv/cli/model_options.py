"""``--model-options``: options of a checkpoint's model to replace when it is loaded, those that
keep its ``state_dict`` (:meth:`regconv.training.Predictor.from_checkpoint`), e.g. the kernel
table of the same weights: ``table=None`` (the exact kernel) or ``table.order=cubic_bspline``
(the C² table, whose forces have continuous derivatives: energy-conserving MD)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_model_options", "parsed_model_options"]


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add ``--model-options KEY=VALUE,...`` to ``p``."""
    p.add_argument(
        "--model-options",
        default=None,
        metavar="KEY=VALUE,...",
        help="replace options of the checkpoint's model that keep its weights, e.g. "
        "table=None (exact kernel) or table.order=cubic_bspline (C² table)",
    )


def parsed_model_options(p: argparse.ArgumentParser, text: str | None) -> dict[str, Any] | None:
    """The mapping of ``--model-options`` (None when not given; a usage error when bad)."""
    if text is None:
        return None
    from regconv.bench.specs import parse_options

    try:
        options = parse_options(text)
    except ValueError as e:
        p.error(f"--model-options: {e}")
    if not options:
        p.error("--model-options: no KEY=VALUE given")
    return options
