r"""Independent Langevin replicas of one or several molecules, integrated side by side.

A small molecule leaves most of a model call to per-call overhead (MACE on aspirin, one thread:
124 ms for one replica, 69 ms per replica in a batch of ten). Here ``R`` replicas, of the same
molecule or of different ones, share each force evaluation: one call of the force field per
time step for all of them.

Integrator: BAOAB (Leimkuhler & Matthews), per atom of mass :math:`m`, friction
:math:`\gamma`, bath temperature :math:`T`, time step :math:`\Delta t`:

.. math::

    v \mathrel{+}= \tfrac{\Delta t}{2} F/m,\quad x \mathrel{+}= \tfrac{\Delta t}{2} v,\quad
    v \leftarrow c\,v + \sqrt{(1 - c^2)\,k_B T/m}\;\xi,\quad x \mathrel{+}= \tfrac{\Delta t}{2} v,
    \quad F = F(x),\quad v \mathrel{+}= \tfrac{\Delta t}{2} F/m,\qquad c = e^{-\gamma \Delta t}

with :math:`\xi \sim \mathcal N(0, 1)`. With :math:`\gamma = 0` it is velocity Verlet (ASE's
``VelocityVerlet`` to round-off). Units are ASE's: Å, amu, eV, time in ``ase.units.fs``
(velocities in Å per ASE time unit, as ``Atoms.get_velocities``).

Each replica draws its noise from its own generator (seeded), so its trajectory does not depend
on which others run beside it. A replica whose positions, energy or forces stop being finite is
finished at once (listed in :attr:`ReplicaLangevin.nonfinite` with its step), so one broken
replica cannot stop the others; :meth:`ReplicaLangevin.finish` stops one on request. The state
round-trips through :meth:`ReplicaLangevin.state_dict`, so an interrupted run resumes on the
same trajectory.

Shapes:
    ``R`` replicas of ``N_r`` atoms, ``A = sum_r N_r`` atoms in all. Per replica: numbers
    ``[N_r]``, positions and velocities ``[N_r, 3]``, masses ``[N_r]``. Held flat: ``pos``,
    ``vel``, ``forces`` ``[A, 3]``, ``masses`` ``[A]``, ``replica`` ``[A]`` (the replica of each
    atom), ``offsets`` ``[R + 1]``, ``energies`` ``[R]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from regconv.md.forces import ForceField
from regconv.utils.checks import check_int, check_nonnegative, check_positive

__all__ = ["ReplicaLangevin", "num_steps"]


def num_steps(ps: float, dt_fs: float) -> int:
    """The number of time steps of ``dt_fs`` fs in ``ps`` picoseconds (rounded); ``ValueError``
    unless both are finite numbers > 0 and ``ps`` holds at least one step."""
    steps = round(check_positive("ps", ps) * 1000.0 / check_positive("dt_fs", dt_fs))
    if steps < 1:
        raise ValueError(f"ps = {ps} is shorter than one step of {dt_fs} fs")
    return steps


def _per_replica(name: str, values: Sequence, count: int) -> list[np.ndarray]:
    if len(values) != count:
        raise ValueError(f"{name}: {len(values)} entries for {count} replicas")
    return [np.asarray(v) for v in values]


class ReplicaLangevin:
    """BAOAB Langevin dynamics of ``R`` replicas of one or several molecules.

    Args:
        forces: the force field (:class:`regconv.md.forces.ForceField`): numbers and positions
            of the running replicas -> energies (eV) and forces (eV/Å).
        numbers: per replica, its atomic numbers ``[N_r]``.
        positions: per replica, its start positions ``[N_r, 3]`` (Å); an array ``[R, N, 3]``
            for replicas of one molecule.
        velocities: per replica, ``[N_r, 3]`` (Å per ASE time unit).
        masses: per replica ``[N_r]`` (amu); default ASE's atomic masses of ``numbers``.
        dt_fs: time step (fs), > 0.
        temperature_K: bath temperature (K), >= 0.
        friction_per_fs: :math:`\\gamma` (1/fs), >= 0; 0 gives velocity Verlet.
        seeds: one noise seed per replica.
        cells: per replica its fixed ``(cell [3, 3], pbc [3])`` (periodic systems; atoms may
            leave the cell, the force field sees their images), or None (molecules).

    Raises ``ValueError`` naming the problem for mismatched lengths or shapes, non-positive
    masses, non-finite positions or velocities, and a bad time step, temperature or friction.

    Shapes:
        see the module: per replica ``[N_r]`` / ``[N_r, 3]``, held flat ``[A, 3]``.
    """

    def __init__(
        self,
        forces: ForceField,
        numbers: Sequence[Sequence[int] | np.ndarray],
        positions: Sequence[np.ndarray] | np.ndarray,
        velocities: Sequence[np.ndarray] | np.ndarray,
        *,
        masses: Sequence[np.ndarray] | np.ndarray | None = None,
        dt_fs: float,
        temperature_K: float,
        friction_per_fs: float,
        seeds: Sequence[int],
        cells: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> None:
        from ase.data import atomic_masses

        from ase import units

        count = len(positions)
        if count == 0:
            raise ValueError("need at least one replica")
        zs = _per_replica("numbers", numbers, count)
        pos = _per_replica("positions", positions, count)
        vel = _per_replica("velocities", velocities, count)
        for r, (z, p, v) in enumerate(zip(zs, pos, vel, strict=True)):
            if z.ndim != 1 or z.size == 0 or not np.issubdtype(z.dtype, np.integer):
                raise ValueError(f"replica {r}: numbers must be [N] integers, got {z.shape}")
            if not (0 < z.min() and z.max() < len(atomic_masses)):
                raise ValueError(f"replica {r}: atomic numbers must be in 1..118, got {z}")
            if p.shape != (z.size, 3) or v.shape != p.shape:
                raise ValueError(
                    f"replica {r}: positions and velocities must be [{z.size}, 3] for its "
                    f"{z.size} atoms, got {p.shape} and {v.shape}"
                )
        ms = (
            [atomic_masses[z] for z in zs]
            if masses is None
            else _per_replica("masses", masses, count)
        )
        for r, (z, m) in enumerate(zip(zs, ms, strict=True)):
            if m.shape != z.shape or not (np.asarray(m, dtype=np.float64) > 0).all():
                raise ValueError(f"replica {r}: masses must be [{z.size}] and > 0")
        if len(seeds) != count:
            raise ValueError(f"need one seed per replica: {len(seeds)} seeds, {count} replicas")
        self.cells = None
        if cells is not None:
            if len(cells) != count:
                raise ValueError(f"need one cell per replica: {len(cells)} cells, {count} replicas")
            self.cells = []
            for r, (cell, pbc) in enumerate(cells):
                cell = np.array(cell, dtype=np.float64)  # copies: the caller's may change
                pbc = np.array(pbc, dtype=bool).reshape(-1)
                if cell.shape != (3, 3) or pbc.shape != (3,) or not np.isfinite(cell).all():
                    raise ValueError(f"replica {r}: a cell is a finite [3, 3] with pbc [3]")
                self.cells.append((cell, pbc))
        dt_fs = check_positive("dt_fs", dt_fs)
        temperature_K = check_nonnegative("temperature_K", temperature_K)
        friction_per_fs = check_nonnegative("friction_per_fs", friction_per_fs)
        self.pos = np.concatenate(pos).astype(np.float64)
        self.vel = np.concatenate(vel).astype(np.float64)
        if not (np.isfinite(self.pos).all() and np.isfinite(self.vel).all()):
            raise ValueError("positions or velocities contain NaN or Inf")
        self.force_fn = forces
        self.numbers = [z.astype(np.int64) for z in zs]
        self.masses = np.concatenate(ms).astype(np.float64)  # [A]
        sizes = np.array([z.size for z in zs])
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])  # [R + 1]
        self.replica = np.repeat(np.arange(count), sizes)  # [A]
        self.dt_fs, self.temperature_K, self.friction_per_fs = dt_fs, temperature_K, friction_per_fs
        self.dt = dt_fs * units.fs
        self.c1 = float(np.exp(-friction_per_fs * dt_fs))
        self.kT = units.kB * temperature_K
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.active = np.ones(count, dtype=bool)
        #: replica -> the step at which its positions, energy or forces stopped being finite
        self.nonfinite: dict[int, int] = {}
        self.nsteps = 0
        self.energies, self.forces = self._call(np.arange(count), self.pos)

    @classmethod
    def from_atoms(
        cls,
        forces: ForceField,
        replicas: Sequence,
        *,
        dt_fs: float,
        temperature_K: float,
        friction_per_fs: float,
        seeds: Sequence[int],
    ) -> ReplicaLangevin:
        """The replicas of ``ase.Atoms`` objects: their numbers, positions, velocities and
        masses."""
        periodic = any(a.pbc.any() for a in replicas)
        return cls(
            forces,
            [a.numbers for a in replicas],
            [a.positions for a in replicas],
            [a.get_velocities() for a in replicas],
            masses=[a.get_masses() for a in replicas],
            dt_fs=dt_fs,
            temperature_K=temperature_K,
            friction_per_fs=friction_per_fs,
            seeds=seeds,
            cells=[(np.array(a.cell.array), np.array(a.pbc)) for a in replicas] if periodic
            else None,
        )

    @property
    def num_replicas(self) -> int:
        return len(self.numbers)

    def positions(self, replica: int) -> np.ndarray:
        """Positions ``[N_r, 3]`` (Å) of one replica (a view)."""
        return self.pos[self.offsets[replica] : self.offsets[replica + 1]]

    def velocities(self, replica: int) -> np.ndarray:
        """Velocities ``[N_r, 3]`` of one replica (a view)."""
        return self.vel[self.offsets[replica] : self.offsets[replica + 1]]

    def _call(self, idx: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Energies ``[R']`` and forces ``[A', 3]`` of replicas ``idx`` at flat positions ``x``."""
        cuts = (self.offsets[idx + 1] - self.offsets[idx]).cumsum()[:-1]
        numbers, parts = [self.numbers[r] for r in idx], np.split(x, cuts)
        if self.cells is None:
            e, f = self.force_fn(numbers, parts)
        else:
            e, f = self.force_fn(numbers, parts, cells=[self.cells[r] for r in idx])
        e = np.asarray(e, dtype=np.float64).reshape(-1)
        f = np.concatenate(f) if isinstance(f, (list, tuple)) else np.asarray(f)
        if e.shape != (idx.size,) or f.size != x.size:
            raise ValueError(
                f"the force field returned energies {e.shape} and forces of {f.size // 3} atoms "
                f"for {idx.size} replicas of {len(x)} atoms"
            )
        return e, np.asarray(f, dtype=np.float64).reshape(x.shape)

    def step(self, n: int = 1) -> None:
        """``n`` BAOAB steps of the running replicas (one force-field call per step); fewer when
        every replica has finished on the way (:attr:`nsteps` counts the steps done)."""
        n = check_int("the number of steps", n, minimum=0)
        idx = np.flatnonzero(self.active)  # [R'] the running replicas
        if idx.size == 0:
            return
        atoms = np.isin(self.replica, idx)  # [A] their atoms
        x, v, f = self.pos[atoms], self.vel[atoms], self.forces[atoms]  # [A', 3] copies
        e, local = self.energies[idx], self.replica[atoms]  # [R'], [A']
        inv_m = (1.0 / self.masses[atoms])[:, None]  # [A', 1]
        sigma = np.sqrt((1.0 - self.c1**2) * self.kT * inv_m)  # [A', 1]
        h = 0.5 * self.dt
        done = n  # the steps done: fewer when every replica finishes on the way
        for k in range(n):
            v += h * f * inv_m
            x += h * v
            if self.c1 < 1.0:
                xi = [self.rngs[r].standard_normal((self.numbers[r].size, 3)) for r in idx]
                v = self.c1 * v + sigma * np.concatenate(xi)
            x += h * v
            ok = _all_per_replica(np.isfinite(x).all(1) & np.isfinite(v).all(1), local, idx)
            if ok.any():
                sub = np.isin(local, idx[ok])
                e[ok], f[sub] = self._call(idx[ok], x[sub])
                finite = np.isfinite(f[sub]).all(1)
                ok[ok] = np.isfinite(e[ok]) & _all_per_replica(finite, local[sub], idx[ok])
            v += h * f * inv_m
            if not ok.all():  # finished where they broke; the others go on
                self.pos[atoms], self.vel[atoms], self.forces[atoms] = x, v, f
                self.energies[idx] = e
                for r in idx[~ok]:
                    self.active[r] = False
                    self.nonfinite[int(r)] = self.nsteps + k + 1
                keep = np.isin(local, idx[ok])
                idx, e, atoms = idx[ok], e[ok], np.isin(self.replica, idx[ok])
                x, v, f, local = x[keep], v[keep], f[keep], local[keep]
                inv_m, sigma = inv_m[keep], sigma[keep]
                if idx.size == 0:
                    done = k + 1
                    break
        self.pos[atoms], self.vel[atoms], self.forces[atoms] = x, v, f
        self.energies[idx] = e
        self.nsteps += done

    def finish(self, replica: int) -> None:
        """Stop replica ``replica``: it keeps its last state and leaves the batch."""
        self.active[replica] = False

    def kinetic_energies(self) -> np.ndarray:
        """Kinetic energy of each replica ``[R]`` (eV)."""
        ke = 0.5 * (self.masses[:, None] * self.vel**2).sum(1)  # [A]
        return np.bincount(self.replica, ke, minlength=self.num_replicas)

    def temperatures(self) -> np.ndarray:
        """Kinetic temperature of each replica ``[R]`` (K), :math:`3 N_r` degrees of freedom."""
        from ase import units

        return 2.0 * self.kinetic_energies() / (3 * np.diff(self.offsets) * units.kB)

    def state_dict(self) -> dict:
        """Everything needed to continue on the same trajectory (numpy arrays and JSON-able)."""
        return {
            "pos": self.pos.copy(),
            "vel": self.vel.copy(),
            "forces": self.forces.copy(),
            "energies": self.energies.copy(),
            "active": self.active.copy(),
            "nsteps": self.nsteps,
            "rng_states": [r.bit_generator.state for r in self.rngs],
            "nonfinite": dict(self.nonfinite),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict` (``ValueError`` if it is of other replicas)."""
        arrays = {k: np.asarray(state[k], dtype=np.float64) for k in ("pos", "vel", "forces")}
        if any(a.size != self.pos.size for a in arrays.values()) or len(state["rng_states"]) != len(
            self.rngs
        ):
            shapes = [a.shape for a in arrays.values()]
            raise ValueError(
                f"a state of {len(state['rng_states'])} replicas and arrays {shapes} does not "
                f"fit {self.num_replicas} replicas of {len(self.pos)} atoms"
            )
        for key, a in arrays.items():  # [R, N, 3] states of one molecule read the same
            setattr(self, key, a.reshape(self.pos.shape).copy())
        if "energies" in state:
            self.energies = np.asarray(state["energies"], dtype=np.float64).copy()
        self.active = np.array(state["active"], dtype=bool)
        self.nsteps = int(state["nsteps"])
        for rng, s in zip(self.rngs, state["rng_states"], strict=True):
            rng.bit_generator.state = s
        self.nonfinite = {int(r): int(k) for r, k in state.get("nonfinite", {}).items()}


def _all_per_replica(flags: np.ndarray, local: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``[len(idx)]``: whether ``flags`` (per atom, replica ``local``) hold for all atoms of each
    replica in ``idx``."""
    bad = np.bincount(local[~flags], minlength=int(idx.max()) + 1)
    return bad[idx] == 0
