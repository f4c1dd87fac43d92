r"""Same-budget energy + force comparison on MD17-class frames, MACE included.

    python -m benchmarks pes-budget --molecule aspirin --minutes 30 \
        [--models r3s2 r3 schnet dimenet mace] [--seed 0] [--jobs 2] [--threads 1] \
        [--test-size 5000] [--out runs/pes-budget-<date>]

Protocol
--------
- Data: a generated GFN2-xTB set (``--molecule``, :mod:`regconv.data.md17`; its default 10,000
  frames) or a user's file (``--path``), split 950 training / 50 validation / the rest test by a
  seeded permutation (``--split-seed``); the first ``--test-size`` test frames are the test.
  The same frames for every model and seed; the validation frames are MACE's and unused by
  the regconv models (no validation during training).
- regconv models (:mod:`~benchmarks.pes_budget.task`): the energy + force task kind of
  :class:`regconv.training.RegressionTask` (energy per molecule with a per-atom shift, forces
  ``-dE/dx`` by autograd, MSE on standardised energy and forces with weights ``--energy-weight``
  1 and ``--force-weight`` 100, random rotations of every training graph (not with
  ``--no-rotation-augment``), EMA ``--ema-decay``
  0.99), AdamW at the model's peak learning rate (:data:`~benchmarks.pes_budget.specs.MODEL_LR`:
  ``r3s2`` and ``r3`` 2e-3, ``schnet`` 5e-3, the others 1e-3; ``--lr`` sets every model's, a
  spec's ``lr`` key its own), batch 5, gradient clipping at 10, and the budget benchmark's
  schedule in time (:class:`regconv.training.optim.TimeWarmupCosine`: warm-up over the first
  5 % of the budget, cosine to 1 % of the peak at its end). The trained model is kept as a
  ``RegressionTask`` checkpoint (``ckpt/``) for ``regconv md``.
- MACE (:mod:`~benchmarks.pes_budget.mace`): ``mace_run_train`` on the same frames as extended
  XYZ, under a cap of the budget on the seconds inside its epochs; evaluated by
  ``mace_eval_configs`` on the same test frames; the exact commands are in its record.
- Reported per model (``models/<spec>.json``, ``results.json``, ``table.md``): test force MAE
  (meV/Å, over components) and RMSE, energy MAE (meV per molecule, and per atom), parameters,
  steps, epochs, training wall time, the CPU load around the training, machine and date.

Model sizes: :mod:`~benchmarks.pes_budget.specs`. ``--jobs 2 --threads 1`` trains two
models at a time, one thread each. Records, resume and workers: :mod:`benchmarks.budget_core`.
"""

from __future__ import annotations

from benchmarks.pes_budget.cli import HARNESS, build_parser, main
from benchmarks.pes_budget.report import render_table
from benchmarks.pes_budget.specs import MODEL_OPTIONS, default_models, spec_options

__all__ = [
    "HARNESS",
    "MODEL_OPTIONS",
    "build_parser",
    "default_models",
    "main",
    "render_table",
    "spec_options",
]
