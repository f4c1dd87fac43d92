"""The ``regconv`` command.

::

    regconv fit      --config configs/qm9_quick.yaml [--key value ...]
    regconv fit      --config configs/qm9_quick.yaml --run_dir runs/homo --ckpt_path last  # resume
    regconv validate --config configs/qm9_quick.yaml --ckpt_path runs/.../checkpoints/best.ckpt
    regconv test     --config configs/qm9_quick.yaml --ckpt_path runs/.../checkpoints/best.ckpt
    regconv predict  --ckpt runs/.../checkpoints/best.ckpt --input molecules.xyz [--output p.csv]
    regconv bench    ...   (forwarded to regconv.bench, if installed)

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
``results.json`` and ``plots/*.png``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

_T0 = time.perf_counter()  # start of the command (reset by main), for the wall times


def _print_err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# run folders
# ----------------------------------------------------------------------------------------------


def _timestamp() -> str:
    return _dt.datetime.now().strftime("%Y%m%d-%H%M%S")


def _env_rank() -> int:
    """The global rank announced by a launcher's environment (0 if none)."""
    for var in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 0


def _is_launcher_child() -> bool:
    """True in a process started by Lightning's DDP launcher (it sets LOCAL_RANK >= 1)."""
    return os.environ.get("LOCAL_RANK", "0") not in ("", "0") and "REGCONV_RUN_DIR" in os.environ


def resolve_run_dir(
    run_dir: str | None, runs_root: str, name: str, subcommand: str
) -> tuple[Path, str]:
    """The run folder and how it was chosen: ``"given"``, ``"parent"`` (the folder of
    Lightning's DDP launcher process), ``"slurm"``, ``"torchrun"`` or ``"new"``.

    Every process of a multi-process run must agree: explicit ``run_dir`` first; then the
    folder of the parent process; then one named after the SLURM job (multi-task jobs) or the
    torchrun rendezvous id; else a fresh timestamped folder (one process)."""
    if run_dir:
        return Path(run_dir), "given"
    if _is_launcher_child():
        return Path(os.environ["REGCONV_RUN_DIR"]), "parent"
    suffix = "" if subcommand == "fit" else f"-{subcommand}"
    base = Path(runs_root) / name
    slurm = os.environ.get("SLURM_JOB_ID")
    if slurm and int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1:
        return base / f"slurm-{slurm}{suffix}", "slurm"
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "TORCHELASTIC_RUN_ID" in os.environ:
        rid = os.environ["TORCHELASTIC_RUN_ID"]
        if rid and rid != "none":
            return base / f"torchrun-{rid}{suffix}", "torchrun"
        raise ValueError(
            "under torchrun, give --run_dir (or torchrun --rdzv-id) so that all processes use "
            "the same run folder"
        )
    stamp = _timestamp() + suffix
    path = base / stamp
    k = 1
    while path.exists():
        path = base / f"{stamp}-{k}"
        k += 1
    return path, "new"


# ----------------------------------------------------------------------------------------------
# the LightningCLI
# ----------------------------------------------------------------------------------------------


def _build_cli_class():
    from jsonargparse import Namespace
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.cli import LightningCLI, SaveConfigCallback
    from lightning.pytorch.loggers import CSVLogger
    from lightning.pytorch.plugins.io import CheckpointIO

    from regconv.training import (
        AtomicCheckpointIO,
        BestCheckpoint,
        GraphDataModule,
        RegressionTask,
        StepCheckpoint,
    )
    from regconv.training.callbacks import remove_stale_temporaries

    class RunConfigSaver(SaveConfigCallback):
        """Writes the resolved config to ``<run_dir>/config.yaml`` (``config.resumeN.yaml``
        for later invocations in the same folder)."""

        run_dir: Path

        def save_config(self, trainer, pl_module, stage) -> None:
            from regconv.utils.io import atomic_write_text

            path = self.run_dir / "config.yaml"
            k = 1
            while path.exists():
                path = self.run_dir / f"config.resume{k}.yaml"
                k += 1
            try:  # jsonargparse >= 4.49 renamed skip_none to skip_unset
                text = self.parser.dump(self.config, skip_unset=False)
            except (TypeError, ValueError):
                text = self.parser.dump(self.config, skip_none=False)
            atomic_write_text(path, text)

    def task_spec_of(datamodule) -> dict[str, Any]:
        return datamodule.task_spec

    class RegconvCLI(LightningCLI):
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
            parser.link_arguments(
                "data", "model.task", compute_fn=task_spec_of, apply_on="instantiate"
            )

        # -- setup ------------------------------------------------------------------------------
        def _parse_ckpt_path(self) -> None:
            """With ``--ckpt_path FILE``, build the network the checkpoint holds: its
            ``model``, ``model_options`` and ``ema_decay`` replace the config's. (Lightning
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
            if keep:
                self.config = self.parser.parse_object({sub: {"model": keep}}, self.config)

        def _cfg(self) -> Namespace:
            return self.config[self.subcommand]

        def before_instantiate_classes(self) -> None:
            self.t_start = _T0
            cfg = self._cfg()
            if cfg.checkpoint_every_n_steps < 0:
                self._cfg_error("--checkpoint_every_n_steps must be >= 0")
            name = cfg.run_name
            if not name:
                configs = cfg.get("config") or []
                name = Path(str(configs[-1])).stem if configs else "run"
            try:
                self.run_dir, how = resolve_run_dir(
                    cfg.run_dir, cfg.runs_root, name, self.subcommand
                )
            except ValueError as e:
                self._cfg_error(str(e))
            if self.subcommand == "fit" and cfg.get("ckpt_path") == "last" and how == "new":
                self._cfg_error(
                    "--ckpt_path last resumes the run in --run_dir: give the folder of the run "
                    "to resume (a new run folder has no last.ckpt)"
                )
            self.shared_dir = how == "parent"
            self.run_name = name
            self.ckpt_dir = self.run_dir / "checkpoints"
            if self.subcommand == "fit" and _env_rank() == 0 and not self.shared_dir:
                # a process killed while writing a checkpoint leaves a temporary behind
                remove_stale_temporaries(self.ckpt_dir)
            # processes started by Lightning's DDP launcher inherit this and use the same folder
            # (run_lightning restores the variable when the command ends)
            os.environ["REGCONV_RUN_DIR"] = str(self.run_dir)

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
                if isinstance(cb, RunConfigSaver):
                    cb.run_dir = self.run_dir
            return trainer

        # -- subcommands ------------------------------------------------------------------------
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
                self.trainer.test(
                    self.model, datamodule=self.datamodule, ckpt_path=ckpt, verbose=False
                )
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

        # -- results ----------------------------------------------------------------------------
        def _finish(self, times: dict[str, float | None], ckpt: str | None) -> None:
            if not self.trainer.is_global_zero:
                return
            from regconv.training import report

            task: RegressionTask = self.model
            cfg = self._cfg()
            results = task.last_results
            plots: dict[str, str] = {}
            run_dir = self.run_dir
            if cfg.plots and self.subcommand == "fit":
                rows = report.read_metrics(run_dir / "logs")
                p = report.plot_learning_curves(
                    rows, run_dir / "plots" / "learning_curves.png", title=self.run_name
                )
                if p is not None:
                    plots["learning_curves"] = str(p)
            test = results.get("test")
            if cfg.plots and test is not None and test["pred"].numel():
                names = task.spec.names
                p = report.plot_parity(
                    test["pred"].numpy(),
                    test["true"].numpy(),
                    names,
                    task.spec.units,
                    run_dir / "plots" / "parity_test.png",
                    maes=[test["targets"][n]["mae"] for n in names],
                    title=f"{self.run_name}: test",
                )
                if p is not None:
                    plots["parity_test"] = str(p)
            times = {k: v for k, v in times.items() if v is not None}
            times["total"] = time.perf_counter() - self.t_start
            dm = self.datamodule
            try:
                split = dm.split_info() if hasattr(dm, "split_info") else None
            except Exception as e:  # never lose the results for the record
                split = {"error": f"{type(e).__name__}: {e}"}
            clean = {
                stage: {k: v for k, v in res.items() if k not in ("pred", "true")}
                for stage, res in results.items()
            }
            best_score = self.best_ckpt.best_model_score
            out = {
                "command": self.subcommand,
                "run_dir": str(run_dir),
                "finished": _dt.datetime.now().isoformat(timespec="seconds"),
                "seed": self._cfg().get("seed_everything"),
                "model": task.hparams.model,
                "model_options": dict(task.hparams.model_options or {}),
                "num_parameters": int(sum(p.numel() for p in task.net.parameters())),
                "task": task.spec.to_dict(),
                "checkpoint": ckpt,
                "weights": "ema" if task.ema is not None else "raw",
                "best_val_loss": float(best_score) if best_score is not None else None,
                "epochs": int(self.trainer.current_epoch),
                "global_step": int(self.trainer.global_step),
                "world_size": int(self.trainer.world_size),
                "wall_time_s": times,
                "split": split,
                "plots": plots,
                **clean,
                "versions": _versions(),
            }
            report.write_json(run_dir / "results.json", out)
            self._print_summary(out)

        def _print_summary(self, out: dict[str, Any]) -> None:
            from regconv.training import report

            lines = [f"run folder: {out['run_dir']}"]
            for stage in ("test", "validate"):
                key = "test" if stage == "test" else "val"
                res = out.get(key)
                if res is None:
                    continue
                rows = []
                for name, m in res["targets"].items():
                    rows.append([name, m["mae"], m["rmse"], m["unit"] or "-"])
                where = out["checkpoint"] or "final weights"
                lines.append(
                    f"{key} set ({res['count']} items, {out['weights'].upper()} weights of "
                    f"{where}):"
                )
                lines.append(report.format_table(["target", "MAE", "RMSE", "unit"], rows))
                break
            for label, path in out["plots"].items():
                lines.append(f"plot {label}: {path}")
            lines.append(f"results: {Path(out['run_dir']) / 'results.json'}")
            wt = out["wall_time_s"]
            lines.append("wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in wt.items()))
            print("\n".join(lines), flush=True)

    return RegconvCLI, RunConfigSaver, GraphDataModule, RegressionTask


def _versions() -> dict[str, str]:
    import lightning
    import torch
    import torch_geometric

    import regconv

    return {
        "regconv": regconv.__version__,
        "torch": torch.__version__,
        "lightning": lightning.__version__,
        "torch_geometric": torch_geometric.__version__,
        "python": platform.python_version(),
    }


_SUBCOMMANDS = ("fit", "validate", "test")


def run_lightning(argv: list[str] | None) -> int:
    """``fit``, ``validate``, ``test``: the LightningCLI (``argv`` None: ``sys.argv[1:]``)."""
    RegconvCLI, RunConfigSaver, GraphDataModule, RegressionTask = _build_cli_class()
    import warnings

    before = os.environ.get("REGCONV_RUN_DIR")
    # no abbreviated options: a misspelt key is an error, never silently another key
    strict = {"allow_abbrev": False}
    parser_kwargs = {"prog": "regconv", **strict, **{c: dict(strict) for c in _SUBCOMMANDS}}
    cli = None
    try:
        with warnings.catch_warnings():
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
                save_config_callback=RunConfigSaver,
                save_config_kwargs={"overwrite": True, "save_to_log_dir": False},
                seed_everything_default=0,
                auto_configure_optimizers=False,
                load_from_checkpoint_support=False,
                parser_kwargs=parser_kwargs,
                args=argv,
            )
    finally:
        if before is None:
            os.environ.pop("REGCONV_RUN_DIR", None)
        else:
            os.environ["REGCONV_RUN_DIR"] = before
    del cli
    return 0


# ----------------------------------------------------------------------------------------------
# predict
# ----------------------------------------------------------------------------------------------


def run_predict(argv: list[str]) -> int:
    """``regconv predict --ckpt PATH --input FILE [--output CSV]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="regconv predict",
        description="Predict the targets of a trained QM9-type model for molecules in an "
        "(extended) XYZ file or an ASE database (.db). Writes CSV (atomically) with the units "
        "in the header.",
    )
    parser.add_argument("--ckpt", required=True, help="checkpoint (.ckpt) of a regconv run")
    parser.add_argument("--input", required=True, help="molecules: .xyz / .extxyz or ASE .db")
    parser.add_argument("--output", default=None, help="CSV file (default: standard output)")
    parser.add_argument("--batch_size", type=int, default=64, help="molecules per batch")
    parser.add_argument(
        "--rotations",
        type=int,
        default=None,
        help="average over this many random rotations (default: the checkpoint's test_rotations)",
    )
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error("--batch_size must be >= 1")
    if args.rotations is not None and args.rotations < 0:
        parser.error("--rotations must be >= 0")

    from regconv.training.predict import (
        PredictError,
        check_molecule_task,
        load_task,
        predict_molecules,
        read_molecules,
        write_csv,
    )

    try:
        task = load_task(args.ckpt, map_location=args.device)
        check_molecule_task(task, args.ckpt)
        mols = read_molecules(args.input)
        preds = predict_molecules(task, mols, args.batch_size, args.rotations)
        text = write_csv(task, mols, preds, args.output)
    except PredictError as e:
        _print_err(f"regconv predict: error: {e}")
        return 1
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        _print_err(f"regconv predict: wrote {len(mols)} prediction(s) to {args.output}")
    return 0


# ----------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------


def run_bench(argv: list[str]) -> int:
    """``regconv bench NAME [args]`` runs ``regconv.bench.NAME.main(args)`` where that module
    exists and defines ``main``; otherwise ``regconv.bench.main(argv)`` or
    ``regconv.bench.__main__.main(argv)`` (the package's own dispatcher, e.g. for benchmarks that
    are not modules) if the package defines one."""
    import importlib
    import importlib.util
    import pkgutil

    import regconv.bench as bench

    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.ispkg)
    if argv and argv[0].replace("-", "_") in names and not argv[0].startswith("_"):
        module = importlib.import_module(f"regconv.bench.{argv[0].replace('-', '_')}")
        if callable(getattr(module, "main", None)):
            return int(module.main(argv[1:]) or 0)
    if callable(getattr(bench, "main", None)):
        return int(bench.main(argv) or 0)
    if importlib.util.find_spec("regconv.bench.__main__") is not None:
        entry = importlib.import_module("regconv.bench.__main__")
        if callable(getattr(entry, "main", None)):
            return int(entry.main(argv) or 0)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: regconv bench NAME [options]\n\nbenchmarks: " + ", ".join(names))
        return 0 if argv else 2
    name = argv[0].replace("-", "_")
    if name not in names:
        _print_err(f"regconv bench: unknown benchmark {argv[0]!r}; available: {', '.join(names)}")
        return 2
    module = importlib.import_module(f"regconv.bench.{name}")
    if not callable(getattr(module, "main", None)):
        _print_err(f"regconv bench: regconv.bench.{name} has no main()")
        return 2
    return int(module.main(argv[1:]) or 0)


_USAGE = """usage: regconv {fit,validate,test,predict,bench} ...

  fit       train a model (LightningCLI): regconv fit --config configs/qm9_quick.yaml
  validate  evaluate a checkpoint on the validation split
  test      evaluate a checkpoint on the test split
  predict   predict for molecules: regconv predict --ckpt PATH --input molecules.xyz
  bench     benchmarks: regconv bench NAME [options] (regconv.bench.NAME)

Run 'regconv COMMAND --help' for the options of a command.
"""


def _exit_code(e: SystemExit) -> int:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``regconv`` command; returns the exit code."""
    global _T0
    _T0 = time.perf_counter()
    from_sys = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "predict":
        try:
            return run_predict(rest)
        except SystemExit as e:  # argparse usage errors and --help
            return _exit_code(e)
    if command == "bench":
        try:
            return run_bench(rest)
        except SystemExit as e:
            return _exit_code(e)
    if command in ("fit", "validate", "test"):
        try:
            return run_lightning(None if from_sys else argv)
        except SystemExit as e:  # jsonargparse reports usage errors (and --help) by exiting
            return _exit_code(e)
    _print_err(f"regconv: unknown command {command!r}\n\n{_USAGE}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
