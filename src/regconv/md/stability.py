r"""Stability: do Langevin runs of a molecule stay physical?

``runs`` independent runs from one start geometry: velocities drawn at ``temperature_K`` with
seeds 0, 1, ... (no net momentum or rotation), then BAOAB Langevin dynamics at that bath
temperature with friction :math:`\gamma`, all runs side by side
(:class:`regconv.md.replicas.ReplicaLangevin`, one force-field call per step; run ``r`` draws
its noise from seed ``10000 + r``, so its trajectory does not depend on the others).

Every ``every`` steps each running replica is checked against
:class:`regconv.md.physical.PhysicalCheck` (no broken bond, no atoms collapsed onto each
other, no escaped atom, finite positions); a replica whose energy or forces stop being finite
leaves too. A run that leaves stops there; reported are the fraction of runs that stayed
physical and, per run, when it left and why.

With ``state_path`` the state is saved atomically every ``save_every`` steps and at the end,
and a call with the same settings resumes from it on the same trajectory (other settings:
``ValueError``).

Shapes:
    the start molecule of ``N`` atoms; the replicas ``[R, N, 3]`` held flat as ``[R N, 3]``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from regconv.md.forces import ForceField
from regconv.md.physical import PhysicalCheck
from regconv.md.replicas import ReplicaLangevin, num_steps
from regconv.md.velocities import thermalized_copies
from regconv.utils.checks import check_int, check_positive

__all__ = ["StabilityResult", "StabilityRun", "stability"]

#: the reason of a replica whose positions, energy or forces stopped being finite
NONFINITE = "positions, energy or forces stopped being finite"


@dataclass(frozen=True)
class StabilityRun:
    """One run: its seed, whether it stayed physical, and else when (ps) and why it left."""

    seed: int
    physical: bool
    left_at_ps: float | None
    reason: str | None


@dataclass(frozen=True)
class StabilityResult:
    """The runs of one stability check and its settings; ``steps_per_s`` counts the steps since
    the start or the resume (None when nothing was left to run)."""

    runs: tuple[StabilityRun, ...]
    temperature_K: float
    ps: float
    dt_fs: float
    friction_per_fs: float
    steps: int
    steps_per_s: float | None

    @property
    def physical_fraction(self) -> float:
        """The fraction of runs that stayed physical."""
        return sum(r.physical for r in self.runs) / len(self.runs)


def stability(
    forces: ForceField,
    atoms,
    *,
    ps: float,
    runs: int = 10,
    temperature_K: float = 500.0,
    dt_fs: float = 0.5,
    friction_per_fs: float = 0.01,
    every: int = 10,
    escape: float = 10.0,
    stretch: float = 2.0,
    collapse: float = 0.5,
    bond_factor: float = 1.2,
    state_path: str | Path | None = None,
    save_every: int = 500,
    resume_key: Mapping[str, object] | None = None,
    progress: Callable[[str], None] | None = None,
) -> StabilityResult:
    """``runs`` Langevin runs of ``ps`` picoseconds of the molecule ``atoms`` (``ase.Atoms``,
    its positions the start) under ``forces`` (module docstring).

    Args:
        forces: the force field (e.g. :class:`regconv.md.forces.RegconvForces`).
        atoms: the start geometry.
        ps, dt_fs: length (ps) and time step (fs).
        runs: number of independent runs.
        temperature_K: start and bath temperature (K); friction_per_fs: :math:`\\gamma` (1/fs).
        every: steps between checks.
        escape, stretch, collapse, bond_factor: the criteria of
            :meth:`regconv.md.physical.PhysicalCheck.of`.
        state_path: where to save the state and resume from (None: no saves).
        save_every: steps between saves.
        resume_key: more settings a saved state must match to be resumed (e.g. the model).
        progress: called with a line of progress at each save, and on a resume.

    ``ValueError`` for a bad setting, a start geometry that is not physical, or a saved state
    of other settings.
    """
    runs, every = check_int("runs", runs), check_int("every", every)
    save_every = check_int("save_every", save_every)
    steps = num_steps(ps, dt_fs)
    check_positive("temperature_K", temperature_K)
    masses = atoms.get_masses()
    check = PhysicalCheck.of(atoms.numbers, atoms.positions, masses, bond_factor=bond_factor,
                             stretch=stretch, collapse=collapse, escape=escape)  # fmt: skip
    starts = thermalized_copies(atoms, [temperature_K] * runs, list(range(runs)))
    dyn = ReplicaLangevin.from_atoms(
        forces, starts, dt_fs=dt_fs, temperature_K=temperature_K,
        friction_per_fs=friction_per_fs, seeds=[10_000 + seed for seed in range(runs)],
    )  # fmt: skip
    settings = {
        "runs": runs, "ps": ps, "dt_fs": dt_fs, "temperature_K": temperature_K,
        "friction_per_fs": friction_per_fs, "every": every, "escape": escape,
        "stretch": stretch, "collapse": collapse, "bond_factor": bond_factor,
        "molecule": _fingerprint(atoms), **dict(resume_key or {}),
    }  # fmt: skip
    settings = json.loads(json.dumps(settings, default=str))  # as a saved state holds them
    say = progress or (lambda line: None)
    left: list = [None] * runs  # per run: None, or [time (ps), reason]
    path = None if state_path is None else Path(state_path)
    resumed = None if path is None else _load_state(path, settings)
    if resumed is not None:
        dyn.load_state_dict(resumed[0])
        left = resumed[1]
        say(f"resuming at step {dyn.nsteps} of {steps}")
    start_step, t0 = dyn.nsteps, time.perf_counter()
    while dyn.nsteps < steps and dyn.active.any():
        dyn.step(min(every, steps - dyn.nsteps))
        for r, k in dyn.nonfinite.items():
            if left[r] is None:
                left[r] = [k * dt_fs / 1000.0, NONFINITE]
        for r in np.flatnonzero(dyn.active):
            problem = check.violation(dyn.positions(r))
            if problem is not None:
                left[r] = [dyn.nsteps * dt_fs / 1000.0, problem]
                dyn.finish(r)
        last = dyn.nsteps >= steps or not dyn.active.any()
        if dyn.nsteps % save_every < every or last:
            if path is not None:
                _save_state(path, settings, dyn.state_dict(), left)
            rate = (dyn.nsteps - start_step) / (time.perf_counter() - t0)
            say(f"step {dyn.nsteps}/{steps}  running {int(dyn.active.sum())}/{runs}  "
                f"{rate:.1f} steps/s")  # fmt: skip
    wall, ran = time.perf_counter() - t0, dyn.nsteps - start_step
    return StabilityResult(
        runs=tuple(
            StabilityRun(
                seed=r,
                physical=left[r] is None,
                left_at_ps=None if left[r] is None else float(left[r][0]),
                reason=None if left[r] is None else str(left[r][1]),
            )  # fmt: skip
            for r in range(runs)
        ),
        temperature_K=float(temperature_K),
        ps=float(ps),
        dt_fs=float(dt_fs),
        friction_per_fs=float(friction_per_fs),
        steps=steps,
        steps_per_s=ran / wall if ran > 0 and wall > 0 else None,
    )


def _fingerprint(atoms) -> str:
    """A short hash of the start geometry (numbers and positions)."""
    h = hashlib.sha256(np.asarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(atoms.positions, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


def _save_state(path: Path, settings: dict, state: dict, left: list) -> None:
    from regconv.utils.io import atomic_write

    meta = {"settings": settings, "rng_states": state["rng_states"], "nsteps": state["nsteps"],
            "left": left, "nonfinite": state["nonfinite"]}  # fmt: skip
    with atomic_write(path, "wb") as fh:
        np.savez(fh, pos=state["pos"], vel=state["vel"], forces=state["forces"],
                 energies=state["energies"], active=state["active"],
                 meta=np.array(json.dumps(meta)))  # fmt: skip


def _load_state(path: Path, settings: dict) -> tuple[dict, list] | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in ("pos", "vel", "forces", "energies", "active")}
            left = meta["left"]
    except Exception as e:  # a file that is not a saved state of this version
        raise ValueError(f"{path}: not a readable stability state ({type(e).__name__}: {e})") from e
    if meta["settings"] != settings:
        raise ValueError(
            f"{path}: a stability run of other settings ({meta['settings']}); use another "
            "state path or delete the file"
        )
    nonfinite = {int(r): int(k) for r, k in meta["nonfinite"].items()}  # JSON keys are strings
    arrays.update(rng_states=meta["rng_states"], nsteps=meta["nsteps"], nonfinite=nonfinite)
    return arrays, left
