"""``mace_run_train`` under a wall-clock cap on its training loop.

MACE stops only at whole epochs, and an epoch of the benchmark's sets takes 2 to 7 minutes on
one thread, so a number of epochs alone misses a 15-minute budget by up to half an epoch. This
script runs MACE's own ``mace.cli.run_train.main`` with two of its functions wrapped:

- ``train_one_epoch`` (of ``mace.tools.train``) counts the seconds spent inside MACE's epochs
  (its set-up, and its validations before the first epoch and after each, are not counted, as a
  regconv model's training time leaves out its learning-curve evaluations), and gets a data
  loader that stops handing out batches once those seconds reach ``--budget-s``. That epoch
  then ends early and MACE validates and checkpoints it as after any epoch. The next epoch, if
  MACE's ``--max_num_epochs`` has not ended the loop first, ends it before it takes a step:
  MACE's ``train`` returns, and ``mace_run_train`` goes on as after its last epoch (it loads
  its best checkpoint, evaluates and writes the model);
- ``train`` (of ``mace.tools`` and of its module ``mace.tools.train``) returns when the cap
  ends its loop.

Nothing else in MACE changes (its optimiser, schedule, EMA, checkpoints and final model are its
own; ``--max_num_epochs`` only bounds its loop unless ``--swa`` is given, which the benchmark
does not give). The steps taken and the seconds inside its epochs are written to
``--steps-file`` (JSON) when MACE returns.

Usage::

    python benchmarks/pes_budget/mace_capped.py --budget-s 900 --steps-file steps.json \\
        -- <mace_run_train arguments>
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]  # run as a script: this folder's mace.py must not hide the installed MACE


def _until(loader, end: float, counter: list, clock):
    """The batches of ``loader`` until ``clock()`` reaches ``end``; counts them in
    ``counter[0]``."""
    for batch in loader:
        if clock() >= end:
            return
        counter[0] += 1
        yield batch


class BudgetSpent(Exception):
    """Raised by the capped ``train_one_epoch`` at the start of an epoch once the budget is
    spent; the capped ``train`` catches it and returns."""


def install(budget_s: float, clock=time.monotonic) -> dict:
    """Wrap MACE's ``train`` and ``train_one_epoch`` (see the module docstring); returns the
    state: ``{"steps": [n], "short_epochs": [epochs cut short], "epoch_s": [seconds inside
    its epochs]}``.

    Raises:
        ValueError: ``budget_s`` is not a positive number.
    """
    if not (isinstance(budget_s, (int, float)) and budget_s > 0 and budget_s < float("inf")):
        raise ValueError(f"the budget must be a positive number of seconds, got {budget_s!r}")
    import importlib

    tools = importlib.import_module("mace.tools")  # run_train calls ``tools.train``
    loop = importlib.import_module("mace.tools.train")  # whose epochs call this module's
    state = {"steps": [0], "short_epochs": [0], "epoch_s": [0.0]}
    train, one_epoch = loop.train, loop.train_one_epoch

    def capped_train(*args, **kwargs):
        try:
            return train(*args, **kwargs)
        except BudgetSpent:
            logging.info("Training stopped: the budget of %g s has passed", budget_s)
            return None

    def capped_one_epoch(*args, **kwargs):
        left = float(budget_s) - state["epoch_s"][0]  # the budget counts epochs only
        if left <= 0.0:
            raise BudgetSpent
        loader = kwargs.pop("data_loader")
        before, t0 = state["steps"][0], clock()
        kwargs["data_loader"] = _until(loader, t0 + left, state["steps"], clock)
        one_epoch(*args, **kwargs)
        state["epoch_s"][0] += clock() - t0
        if state["steps"][0] - before < len(loader):
            state["short_epochs"][0] += 1

    tools.train = loop.train = capped_train
    loop.train_one_epoch = capped_one_epoch
    return state


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        raise SystemExit("usage: mace_capped.py --budget-s S --steps-file F -- <mace args>")
    cut = argv.index("--")
    p = argparse.ArgumentParser(prog="mace_capped.py")
    p.add_argument("--budget-s", type=float, required=True, help="seconds of training loop")
    p.add_argument("--steps-file", type=Path, required=True, help="JSON: the steps taken")
    ours = p.parse_args(argv[:cut])
    state = install(ours.budget_s)
    from mace.cli.run_train import main as mace_main

    sys.argv = ["mace_run_train", *argv[cut + 1 :]]
    mace_main()
    tmp = ours.steps_file.with_name(ours.steps_file.name + ".tmp")
    tmp.write_text(json.dumps({
        "budget_s": ours.budget_s,
        "steps": state["steps"][0],
        "short_epochs": state["short_epochs"][0],
        "epoch_s": round(state["epoch_s"][0], 3),
    }))  # fmt: skip
    os.replace(tmp, ours.steps_file)


if __name__ == "__main__":
    main()
