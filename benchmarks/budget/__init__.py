r"""Same-budget, same-data comparison on QM9: every model trains for the same wall-clock time.

    python -m benchmarks budget --minutes 20 --target homo --train-size 10000 \
        [--models all | NAME[:key=value,...] ...] [--seed 0] [--batch-size 32] [--test-size 1000] \
        [--out runs/budget-<date>] [--jobs 1] [--threads N] [--hidden H] [--lr 5e-4] \
        [--model-lr NAME=LR ...]

Protocol
--------
- Models: every registry model (``regconv.models.available()``) and PyTorch Geometric's SchNet
  and DimeNet++ (``schnet-pyg``, ``dimenet++-pyg``, from :mod:`benchmarks.references`, on
  regconv's radius graph and plain-torch triplets) as outside references. ``--models all`` (the
  default) runs all of them, in that order; ``NAME:key=value,...`` overrides constructor options
  of one model (``r3s2:space.num_orientations=16``) and the result is recorded under that spec.
- Data: the first ``--train-size`` molecules of the ``dimenet`` train split of QM9 for training
  (reshuffled every epoch by ``--seed``; the last incomplete batch dropped) and the first
  ``--test-size`` molecules of the ``dimenet`` test split for the test. No validation during
  training. ``--eval-split val`` evaluates on the first ``--test-size`` molecules of the
  validation split instead (reported in the same fields): for choosing model options without
  looking at the test molecules.
- Training: :class:`regconv.training.RegressionTask` (the same LightningModule as
  ``regconv fit``) under Lightning's ``Trainer(max_time=--minutes)``, the same for every model:
  seed ``--seed`` (initialisation and data order), AdamW (``--lr`` 5e-4, ``--weight-decay`` 0;
  a model may have its own peak rate, chosen on validation molecules with its options
  (:data:`~benchmarks.budget.specs.MODEL_LR`: ``r3s2`` 4e-3), and ``--model-lr NAME=LR``
  gives every spec of model ``NAME`` a rate; either is recorded as ``lr`` in its record and
  listed in the table),
  gradient clipping at 10, L1 loss on targets standardised with the mean and std of the training
  subset, EMA of the weights (decay 0.999, with the task's ``(1+n)/(10+n)`` ramp) used for the
  test, batch ``--batch-size``.
- Schedule: a function of the **elapsed fraction of the time budget**
  ``f = (time since the start of training) / budget``
  (:class:`regconv.training.optim.TimeWarmupCosine`), re-evaluated
  after every optimizer step: linear warm-up from 1 % to 100 % of ``--lr`` over
  ``f < --warmup-fraction`` (0.05), then cosine decay to ``--min-lr-ratio`` (0) at ``f = 1``. So
  every model ends its decay exactly when its budget runs out, whatever its speed, and a change of
  machine load during a run cannot cut the decay short or leave it finished early. The price:
  the steps of a run depend on its speed, so runs are not bit-reproducible.
- Reported per model: test MAE (and RMSE) in the target's unit (meV for ``homo``), parameter
  count, optimizer steps, epochs (steps / batches per epoch), training throughput (molecules per
  second of training wall time, data loading included, from the start of training to its end),
  the CPU load around the training (:func:`regconv.bench.cpu_sampler`), the machine, torch
  threads, date and the command line.

The parts: :mod:`~benchmarks.budget.specs` (the models, their default sizes and the
``NAME:key=value`` specs), :mod:`~benchmarks.budget.task` (the QM9 task, its settings and the
training of one model), :mod:`~benchmarks.budget.report` (``table.md``) and
:mod:`~benchmarks.budget.cli` (the command line); the records, resume and the worker processes
of ``--jobs`` are the shared :mod:`benchmarks.budget_core`.
"""

from __future__ import annotations

from benchmarks.budget.cli import HARNESS, build_parser, main
from benchmarks.budget.report import render_table
from benchmarks.budget.specs import (
    COMMON_OPTIONS,
    MODEL_LR,
    MODEL_OPTIONS,
    PRESET_ROWS,
    SPACES,
    all_models,
    default_options,
    parse_spec,
    spec_options,
)
from benchmarks.budget.task import QM9BudgetTask, settings_of, train_one

__all__ = [
    "COMMON_OPTIONS",
    "HARNESS",
    "MODEL_LR",
    "MODEL_OPTIONS",
    "PRESET_ROWS",
    "SPACES",
    "QM9BudgetTask",
    "all_models",
    "build_parser",
    "default_options",
    "main",
    "parse_spec",
    "render_table",
    "settings_of",
    "spec_options",
    "train_one",
]
