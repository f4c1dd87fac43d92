"""``regconv fit|validate|test``: the LightningCLI of regconv (imported only for these commands).

``fit``, ``validate`` and ``test`` are a LightningCLI (jsonargparse: typed, unknown keys are
errors; ``regconv fit --help``, ``regconv fit --print_config``). Besides ``trainer``, ``model``
(:class:`~regconv.training.RegressionTask`), ``data`` (a
:class:`~regconv.training.GraphDataModule` by ``class_path``) and ``seed_everything``, they take:

``--run_dir DIR``
    the run folder (stable: needed to resume); default ``<runs_root>/<run_name>/<timestamp>``.
``--run_name NAME``, ``--runs_root DIR``
    default name: the stem of the last ``--config`` file; default root ``runs``.
``--checkpoint_every_n_steps N``
    also write ``last.ckpt`` every ``N`` optimizer steps (0: only after validation).
``--test_after_fit BOOL``
    after ``fit``, test the best (EMA) checkpoint (default true).
``--plots BOOL``
    write PNG plots (default true).

A run folder holds ``config.yaml`` (the resolved config), ``logs/version_*/metrics.csv`` (and
TensorBoard events if ``tensorboard`` is installed), ``checkpoints/{best,last}.ckpt``,
``results.json`` and ``plots/*.png`` (:mod:`regconv.cli.run_dir`, :mod:`regconv.cli.results`).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import CheckpointIO

from regconv.cli import results as run_results
from regconv.cli import run_dir as folders
from regconv.training import (
    AtomicCheckpointIO,
    BestCheckpoint,
    GraphDataModule,
    RegressionTask,
    StepCheckpoint,
)
from regconv.training.callbacks import remove_stale_temporaries
from regconv.training.datamodules import import_all as import_data_modules
from regconv.utils.checks import check_int

__all__ = ["SUBCOMMANDS", "RegconvCLI", "run_lightning"]

SUBCOMMANDS = ("fit", "validate", "test")


class _RunConfigSaver(SaveConfigCallback):
    """Writes the resolved config to ``<run_dir>/config.yaml`` (``config.resumeN.yaml``
    for later invocations in the same folder).

    (Private: jsonargparse lists public callback classes as values of ``--trainer.callbacks``,
    and this one is not one to give there.)"""

    run_dir: Path

    def save_config(self, trainer, pl_module, stage) -> None:
        try:  # jsonargparse >= 4.49 renamed skip_none to skip_unset
            text = self.parser.dump(self.config, skip_unset=False)
        except (TypeError, ValueError):
            text = self.parser.dump(self.config, skip_none=False)
        folders.write_config_copy(self.run_dir, text)


def task_spec_of(datamodule) -> dict[str, Any]:
    """The task spec a data module announces (linked to ``model.task``)."""
    return datamodule.task_spec


class RegconvCLI(LightningCLI):
    """The LightningCLI with run folders, regconv's checkpoints and loggers, the checkpoint's
    network for evaluations, and ``results.json`` with plots and a printed summary at the end.

    ``started``: the start of the command (``time.perf_counter()``), for the wall times."""

    def __init__(self, *args: Any, started: float | None = None, **kwargs: Any) -> None:
        self.t_start = time.perf_counter() if started is None else started
        super().__init__(*args, **kwargs)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {
            "fit": {"model", "train_dataloaders", "val_dataloaders", "datamodule"},
            "validate": {"model", "dataloaders", "datamodule"},
            "test": {"model", "dataloaders", "datamodule"},
        }

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument(
            "--run_dir",
            type=str | None,
            default=None,
            help="Run folder (give it to be able to resume with --ckpt_path last).",
        )
        parser.add_argument(
            "--run_name",
            type=str | None,
            default=None,
            help="Run name (default: stem of the config file).",
        )
        parser.add_argument("--runs_root", type=str, default="runs", help="Root of runs.")
        parser.add_argument(
            "--checkpoint_every_n_steps",
            type=int,
            default=500,
            help="Write last.ckpt every N optimizer steps (0: only after validation).",
        )
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=True,
            help="After fit, test the best (EMA) checkpoint and write results.json.",
        )
        parser.add_argument("--plots", type=bool, default=True, help="Write PNG plots.")
        parser.link_arguments("data", "model.task", compute_fn=task_spec_of, apply_on="instantiate")

    # -- setup ----------------------------------------------------------------------------------
    def _parse_ckpt_path(self) -> None:
        """With ``--ckpt_path FILE``, build the network the checkpoint holds: its
        ``model``, ``model_options`` (with the defaults of the release that wrote it) and
        ``ema_decay`` replace the config's. (Lightning
        would take *all* its hyperparameters, overriding e.g. ``--model.test_rotations``.)"""
        import torch

        sub = self.config.get("subcommand")
        ckpt_path = self.config[sub].get("ckpt_path") if sub else None
        if not ckpt_path or not Path(ckpt_path).is_file():
            return
        try:
            ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
            hp = ckpt.get("hyper_parameters", {})
        except Exception as e:
            self._parser(sub).error(f"cannot read checkpoint {ckpt_path}: {e}")
        keep = {k: hp[k] for k in ("model", "model_options", "ema_decay") if k in hp}
        if "model" in keep:  # defaults changed since the checkpoint's release: keep its own
            from regconv.models.legacy import upgrade_options

            options = dict(keep.get("model_options") or {})
            saved_by = ckpt.get("regconv_version")
            try:
                keep["model_options"] = upgrade_options(keep["model"], options, saved_by)[1]
            except ValueError as e:
                self._parser(sub).error(f"checkpoint {ckpt_path}: {e}")
        if keep:
            self.config = self.parser.parse_object({sub: {"model": keep}}, self.config)

    def _cfg(self) -> Namespace:
        return self.config[self.subcommand]

    def before_instantiate_classes(self) -> None:
        cfg = self._cfg()
        try:
            check_int("--checkpoint_every_n_steps", cfg.checkpoint_every_n_steps, minimum=0)
            name = folders.run_name(cfg.run_name, cfg.get("config"))
            self.run_dir, how = folders.resolve_run_dir(
                cfg.run_dir, cfg.runs_root, name, self.subcommand
            )
            folders.check_resume(self.subcommand, cfg.get("ckpt_path"), how)
        except ValueError as e:
            self._cfg_error(str(e))
        self.shared_dir = how == "parent"
        self.run_name = name
        self.ckpt_dir = self.run_dir / "checkpoints"
        if self.subcommand == "fit" and folders.env_rank() == 0 and not self.shared_dir:
            # a process killed while writing a checkpoint leaves a temporary behind
            remove_stale_temporaries(self.ckpt_dir)
        # processes started by Lightning's DDP launcher inherit this and use the same folder
        # (run_lightning restores the variable when the command ends)
        folders.announce_run_dir(self.run_dir)

    def _cfg_error(self, msg: str):
        self._parser(self.subcommand).error(msg)

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except (ValueError, TypeError) as e:
            # bad model options, target names, ...: a usage error, not a crash
            if os.environ.get("REGCONV_DEBUG"):
                raise
            self._cfg_error(f"{type(e).__name__}: {e}")

    def instantiate_trainer(self, **kwargs: Any):
        cfg = self._cfg()
        extra = [
            self._get(self.config_init, c) for c in self._parser(self.subcommand).callback_keys
        ]
        config = dict(self._get(self.config_init, "trainer", default={}))
        config.update(kwargs)
        if config.get("default_root_dir") is None:
            config["default_root_dir"] = str(self.run_dir)
        logger = config.get("logger")
        if logger is None or logger is True:
            loggers = [CSVLogger(str(self.run_dir), name="logs")]
            with contextlib.suppress(Exception):
                from lightning.fabric.loggers.tensorboard import _TENSORBOARD_AVAILABLE
                from lightning.pytorch.loggers import TensorBoardLogger

                if _TENSORBOARD_AVAILABLE:
                    loggers.append(TensorBoardLogger(str(self.run_dir), name="tensorboard"))
            config["logger"] = loggers
        callbacks = list(config.get("callbacks") or [])
        self.best_ckpt = BestCheckpoint(self.ckpt_dir)
        ours = [self.best_ckpt]
        if self.subcommand == "fit" and cfg.checkpoint_every_n_steps > 0:
            ours.append(StepCheckpoint(self.ckpt_dir, cfg.checkpoint_every_n_steps))
        if config["logger"]:
            ours.append(LearningRateMonitor(logging_interval="step"))
        config["callbacks"] = callbacks + ours
        plugins = config.get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())
        config["plugins"] = plugins
        trainer = self._instantiate_trainer(config, extra)
        for cb in trainer.callbacks:
            if isinstance(cb, _RunConfigSaver):
                cb.run_dir = self.run_dir
        return trainer

    # -- subcommands ----------------------------------------------------------------------------
    def before_fit(self) -> None:
        self.t_fit = time.perf_counter()

    def after_fit(self) -> None:
        fit_s = time.perf_counter() - self.t_fit
        cfg = self._cfg()
        test_s = None
        ckpt = self.best_ckpt.best_model_path or None
        if cfg.test_after_fit:
            t0 = time.perf_counter()
            if ckpt is not None:
                # results.json's "val" then belongs to the tested (best) checkpoint, not to
                # the last validation of the fit; the logs keep only the fit's validations.
                loggers = self.trainer.loggers
                self.trainer.loggers = []
                try:
                    self.trainer.validate(
                        self.model, datamodule=self.datamodule, ckpt_path=ckpt, verbose=False
                    )
                finally:
                    self.trainer.loggers = loggers
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=ckpt, verbose=False)
            test_s = time.perf_counter() - t0
        self._finish({"fit": fit_s, "test": test_s}, ckpt)

    def before_validate(self) -> None:
        self.t_eval = time.perf_counter()

    def after_validate(self) -> None:
        ckpt = self._cfg().get("ckpt_path")
        self._finish({"validate": time.perf_counter() - self.t_eval}, ckpt)

    def before_test(self) -> None:
        self.t_eval = time.perf_counter()

    def after_test(self) -> None:
        ckpt = self._cfg().get("ckpt_path")
        self._finish({"test": time.perf_counter() - self.t_eval}, ckpt)

    # -- results --------------------------------------------------------------------------------
    def _finish(self, times: dict[str, float | None], ckpt: str | None) -> None:
        if not self.trainer.is_global_zero:
            return
        from regconv.training import report

        task: RegressionTask = self.model
        cfg = self._cfg()
        plots: dict[str, str] = {}
        if cfg.plots:
            plots = run_results.make_plots(task, self.run_dir, self.run_name, self.subcommand)
        times = {k: v for k, v in times.items() if v is not None}
        times["total"] = time.perf_counter() - self.t_start
        out = run_results.run_record(
            command=self.subcommand,
            run_dir=self.run_dir,
            task=task,
            trainer=self.trainer,
            datamodule=self.datamodule,
            best_score=self.best_ckpt.best_model_score,
            seed=cfg.get("seed_everything"),
            checkpoint=ckpt,
            times=times,
            plots=plots,
        )
        report.write_json(self.run_dir / "results.json", out)
        print(run_results.summary(out), flush=True)


def run_lightning(argv: list[str] | None, started: float | None = None) -> int:
    """``fit``, ``validate``, ``test``: the LightningCLI (``argv`` None: ``sys.argv[1:]``).
    ``started``: the start of the command, for the wall times (default: now)."""
    # no abbreviated options: a misspelt key is an error, never silently another key
    strict = {"allow_abbrev": False}
    parser_kwargs = {"prog": "regconv", **strict, **{c: dict(strict) for c in SUBCOMMANDS}}
    cli = None
    import_data_modules()  # --help lists the data modules that are imported
    with folders.restored_run_dir_env(), warnings.catch_warnings():
        # main(argv) from Python (tests, notebooks) passes args explicitly on purpose
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`")
        # validate/test of a fit checkpoint: its step-checkpoint callback and old folder are
        # deliberately not part of the evaluation run
        warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`")
        warnings.filterwarnings("ignore", message="The dirpath has changed from")
        cli = RegconvCLI(
            RegressionTask,
            GraphDataModule,
            subclass_mode_data=True,
            save_config_callback=_RunConfigSaver,
            save_config_kwargs={"overwrite": True, "save_to_log_dir": False},
            seed_everything_default=0,
            auto_configure_optimizers=False,
            load_from_checkpoint_support=False,
            parser_kwargs=parser_kwargs,
            args=argv,
            started=started,
        )
    del cli
    return 0
