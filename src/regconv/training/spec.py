"""Task specifications: what a :class:`~regconv.training.RegressionTask` predicts.

A task spec is a plain JSON-able ``dict`` (so that it is saved with the hyperparameters of a
checkpoint and a checkpoint can be reloaded with nothing but its path)::

    {
        "dataset": "qm9",                # free-form name, shown in results
        "kind": "graph",                 # "graph" | "node_vector" | "energy_forces"
        "targets": [{"name": "homo", "unit": "meV", "extensive": False}],
        "in_features": 0,                # model in_features (0: atomic numbers batch.z)
        "vector_in": 0,                  # model vector_in (batch.vec [N, V, 3])
    }

* ``kind="graph"``: ``batch.y [B, T]`` holds the ``T`` targets in their reporting units; the model
  outputs ``[B, T]``.
* ``kind="node_vector"``: ``batch.y [N, 3]`` holds target positions; the model outputs
  ``[N, 1, 3]`` and the prediction is ``batch.pos + out[:, 0]`` (times a scale, see the task).
* ``kind="energy_forces"``: ``batch.energy [B]`` and ``batch.forces [N, 3]`` (targets
  ``energy``, extensive, and ``forces``); the model outputs the energy ``[B, 1]`` and the
  forces are ``-dE/dpos`` by autograd (:mod:`regconv.training.energy_forces`).

Data modules build their spec with :func:`qm9_task` / :func:`nbody_task`; the CLI links it into
the task, so a config names the targets once (in the data section).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The QM9 targets (column order of regconv.data.QM9) -> unit, and the extensive ones: the one
# table of regconv.data.qm9.constants (pure Python, so reading a checkpoint stays cheap).
from regconv.data.qm9.constants import EXTENSIVE_QM9_TARGETS, QM9_UNITS

__all__ = [
    "EXTENSIVE_QM9_TARGETS",
    "QM9_UNITS",
    "Target",
    "TaskSpec",
    "energy_forces_task",
    "nbody_task",
    "qm9_task",
    "reference_positions",
    "unit_tag",
]

KINDS = ("graph", "node_vector", "energy_forces")

#: the targets of an energy + force task, in this order
ENERGY_FORCE_TARGETS = ("energy", "forces")
#: the targets of an energy + force task that also trains on the stress of periodic frames
ENERGY_FORCE_STRESS_TARGETS = ("energy", "forces", "stress")


def unit_tag(unit: str) -> str:
    """A unit as an identifier fragment for metric names: ``"bohr^3" -> "bohr3"``,
    ``"cal/mol K" -> "cal_molK"``, ``"meV" -> "meV"``, ``"" -> ""``."""
    tag = unit.replace("^", "").replace("/", "_").replace(" ", "").replace("Å", "A")
    return re.sub(r"[^A-Za-z0-9_]", "", tag)


@dataclass(frozen=True)
class Target:
    """One regression target: its name, its unit (the unit of ``batch.y``) and whether it is
    extensive (grows with the number of atoms)."""

    name: str
    unit: str = ""
    extensive: bool = False

    def metric_name(self, stage: str, metric: str) -> str:
        """``"{stage}/{metric}_{name}_{unit}"``, e.g. ``"test/mae_homo_meV"``."""
        tag = unit_tag(self.unit)
        return f"{stage}/{metric}_{self.name}" + (f"_{tag}" if tag else "")


@dataclass(frozen=True)
class TaskSpec:
    """Validated form of a task spec dict (see the module docstring)."""

    dataset: str
    kind: str
    targets: tuple[Target, ...]
    in_features: int = 0
    vector_in: int = 0

    @property
    def num_outputs(self) -> int:
        """Channels the model must output: ``T`` for graph tasks, 1 vector for node tasks, the
        energy for energy + force tasks."""
        return len(self.targets) if self.kind == "graph" else 1

    @property
    def model_output(self) -> str:
        """The model's ``output``: ``"node_vector"`` for node tasks, else ``"graph"`` (an
        energy + force model outputs the energy; its forces are its gradient)."""
        return "node_vector" if self.kind == "node_vector" else "graph"

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.targets]

    @property
    def units(self) -> list[str]:
        return [t.unit for t in self.targets]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "kind": self.kind,
            "targets": [
                {"name": t.name, "unit": t.unit, "extensive": t.extensive} for t in self.targets
            ],
            "in_features": self.in_features,
            "vector_in": self.vector_in,
        }

    @classmethod
    def from_dict(cls, spec: dict[str, Any] | TaskSpec) -> TaskSpec:
        """Validate ``spec``; raises ``ValueError`` naming the problem."""
        if isinstance(spec, TaskSpec):
            return spec
        if not isinstance(spec, dict):
            raise ValueError(f"a task spec must be a dict, got {type(spec).__name__}")
        unknown = sorted(set(spec) - {"dataset", "kind", "targets", "in_features", "vector_in"})
        if unknown:
            raise ValueError(f"unknown task spec key(s) {unknown}")
        kind = spec.get("kind", "graph")
        if kind not in KINDS:
            raise ValueError(f"task kind must be one of {KINDS}, got {kind!r}")
        raw = spec.get("targets")
        if not raw:
            raise ValueError("a task spec needs at least one target")
        targets = []
        for t in raw:
            if isinstance(t, str):
                t = {"name": t}
            if not isinstance(t, dict) or "name" not in t:
                raise ValueError(f"a target must be a dict with a 'name', got {t!r}")
            targets.append(
                Target(str(t["name"]), str(t.get("unit", "")), bool(t.get("extensive", False)))
            )
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate target names in {names}")
        if kind == "node_vector" and len(targets) != 1:
            raise ValueError("a node_vector task has exactly one target (the positions)")
        if kind == "energy_forces" and tuple(names) not in (
            ENERGY_FORCE_TARGETS, ENERGY_FORCE_STRESS_TARGETS
        ):
            raise ValueError(
                f"an energy_forces task has the targets {ENERGY_FORCE_TARGETS} or "
                f"{ENERGY_FORCE_STRESS_TARGETS}, got {names}"
            )
        in_features = int(spec.get("in_features", 0))
        vector_in = int(spec.get("vector_in", 0))
        if in_features < 0 or vector_in < 0:
            raise ValueError("in_features and vector_in must be non-negative")
        return cls(str(spec.get("dataset", "")), kind, tuple(targets), in_features, vector_in)


def qm9_task(targets: str | Sequence[str] = "homo") -> dict[str, Any]:
    """The spec of QM9 graph-level regression of ``targets`` (names of ``QM9_TARGETS``)."""
    if isinstance(targets, str):
        targets = [targets]
    targets = list(targets)
    if not targets:
        raise ValueError(f"name at least one QM9 target: {', '.join(QM9_UNITS)}")
    for t in targets:
        if t not in QM9_UNITS:
            raise ValueError(f"unknown QM9 target {t!r}; valid: {', '.join(QM9_UNITS)}")
    if len(set(targets)) != len(targets):
        raise ValueError(f"duplicate QM9 targets in {targets}")
    return {
        "dataset": "qm9",
        "kind": "graph",
        "targets": [
            {"name": t, "unit": QM9_UNITS[t], "extensive": t in EXTENSIVE_QM9_TARGETS}
            for t in targets
        ],
        "in_features": 0,
        "vector_in": 0,
    }


def nbody_task() -> dict[str, Any]:
    """The spec of the charged N-body task: charges ``x [N, 1]``, velocities ``vec [N, 1, 3]``,
    predict the positions ``y [N, 3]`` (simulation units)."""
    return {
        "dataset": "nbody",
        "kind": "node_vector",
        "targets": [{"name": "pos", "unit": "", "extensive": False}],
        "in_features": 1,
        "vector_in": 1,
    }


def energy_forces_task(dataset: str = "md17", stress: bool = False) -> dict[str, Any]:
    """The spec of energy + force regression on molecules or periodic systems: atomic numbers
    ``z``, targets ``energy`` (meV per frame, extensive) and ``forces`` (meV/Å per atom), and
    with ``stress`` the ``stress`` of periodic frames (meV/Å^3, ``batch.stress [B, 3, 3]``)."""
    targets = [
        {"name": "energy", "unit": "meV", "extensive": True},
        {"name": "forces", "unit": "meV/Å", "extensive": False},
    ]
    if stress:
        targets.append({"name": "stress", "unit": "meV/Å^3", "extensive": False})
    return {
        "dataset": dataset,
        "kind": "energy_forces",
        "targets": targets,
        "in_features": 0,
        "vector_in": 0,
    }


def reference_positions(data):
    """``[N, 3]`` reference prediction of a node-vector item or batch: ``data.base`` if it
    carries one (e.g. the N-body ``galilean`` option), else ``data.pos``."""
    base = getattr(data, "base", None)
    return data.pos if base is None else base
