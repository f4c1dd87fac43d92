"""The core both same-budget harnesses share (QM9: :mod:`benchmarks.budget`; energy + force:
:mod:`benchmarks.pes_budget`): the time-scheduled task and trainer, the records, resume by
whole models and the worker processes. A harness is its specs, settings, one training function
and a table (:class:`Harness`), run by :func:`run`."""

from benchmarks.budget_core.curve import EpochSnapshots, learning_curve
from benchmarks.budget_core.records import (
    differences,
    file_name,
    json_line,
    order_by_request,
    read_json,
    record_path,
    run_facts,
    write_summary,
)
from benchmarks.budget_core.runner import (
    Harness,
    add_run_arguments,
    check_run_arguments,
    pending,
    run,
    run_parallel,
    worker_argv,
)
from benchmarks.budget_core.training import BudgetTask, Meter, budget_trainer, quiet_lightning

__all__ = [
    "BudgetTask",
    "EpochSnapshots",
    "Harness",
    "Meter",
    "add_run_arguments",
    "budget_trainer",
    "check_run_arguments",
    "differences",
    "file_name",
    "json_line",
    "learning_curve",
    "order_by_request",
    "pending",
    "quiet_lightning",
    "read_json",
    "record_path",
    "run",
    "run_facts",
    "run_parallel",
    "worker_argv",
    "write_summary",
]
