r"""Independent Langevin runs of one molecule, integrated side by side (one model call per step).

The stability check runs ten replicas of a molecule for thousands of steps; called one replica
at a time, a small molecule leaves most of each model call to per-call overhead (MACE on
aspirin, one thread: 124 ms for one replica, 69 ms per replica in a batch of ten). Here the
replicas share each force evaluation: positions ``[R, N, 3]`` go to the model as one batch of
``R`` graphs.

Integrator: BAOAB (Leimkuhler & Matthews), in ASE's units (Å, amu, eV, ``ase.units.fs``)::

    v += dt/2 F/m;  x += dt/2 v;  v = c v + sqrt((1 - c^2) kT/m) xi;  x += dt/2 v;
    F = F(x);  v += dt/2 F/m,        c = exp(-gamma dt)

With ``gamma = 0`` it is velocity Verlet. Each replica draws its noise from its own generator,
so a replica's trajectory does not depend on which others run beside it; a replica that is
marked finished stops moving and leaves the batch.

The state (positions, velocities, forces, generators, step) round-trips through
:meth:`ReplicaLangevin.state_dict`, so an interrupted run resumes on the same trajectory.

A replica whose positions or forces stop being finite is finished at once (it is listed in
:attr:`ReplicaLangevin.nonfinite` with its step), so that one broken replica cannot stop the
others.

Force functions take positions ``[R, N, 3]`` (float64, Å) and return forces ``[R, N, 3]``
(eV/Å): those of :mod:`regconv.bench.replica_forces` (a regconv checkpoint, a MACE model), or
any callable of that shape.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["ReplicaLangevin"]

ForceFn = Callable[[np.ndarray], np.ndarray]


class ReplicaLangevin:
    """BAOAB Langevin dynamics of ``R`` replicas of one molecule.

    Args:
        forces: callable, positions ``[R', N, 3]`` -> forces ``[R', N, 3]`` (eV/Å), called on
            the replicas still running (``R' <= R``).
        positions: ``[R, N, 3]`` start positions (Å).
        velocities: ``[R, N, 3]`` start velocities (ASE units, Å per ``ase.units`` time).
        masses: ``[N]`` (amu).
        dt_fs: time step (fs).
        temperature_K: bath temperature.
        friction_per_fs: ``gamma`` (1/fs); 0 gives velocity Verlet.
        seeds: one noise seed per replica.

    Shapes:
        positions, velocities: ``[R, N, 3]``; masses ``[N]``.
    """

    def __init__(
        self,
        forces: ForceFn,
        positions: np.ndarray,
        velocities: np.ndarray,
        masses: np.ndarray,
        *,
        dt_fs: float,
        temperature_K: float,
        friction_per_fs: float,
        seeds: Sequence[int],
    ) -> None:
        from ase import units

        pos = np.array(positions, dtype=np.float64)
        vel = np.array(velocities, dtype=np.float64)
        m = np.asarray(masses, dtype=np.float64)
        if pos.ndim != 3 or pos.shape[-1] != 3 or vel.shape != pos.shape:
            raise ValueError(
                f"positions and velocities must be [R, N, 3], got {pos.shape}, {vel.shape}"
            )
        if m.shape != (pos.shape[1],) or not (m > 0).all():
            raise ValueError(f"masses must be [N] = [{pos.shape[1]}] and positive")
        if len(seeds) != pos.shape[0]:
            raise ValueError(
                f"need one seed per replica: {len(seeds)} seeds, {pos.shape[0]} replicas"
            )
        if not (dt_fs > 0 and temperature_K >= 0 and friction_per_fs >= 0):
            raise ValueError("need dt_fs > 0, temperature_K >= 0, friction_per_fs >= 0")
        if not (np.isfinite(pos).all() and np.isfinite(vel).all()):
            raise ValueError("positions or velocities contain NaN or Inf")
        self.force_fn = forces
        self.pos, self.vel, self.masses = pos, vel, m
        self.dt = dt_fs * units.fs
        self.c1 = float(np.exp(-friction_per_fs * dt_fs))
        self.kT = units.kB * temperature_K
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.active = np.ones(pos.shape[0], dtype=bool)
        #: replica -> the step at which its positions or forces stopped being finite
        self.nonfinite: dict[int, int] = {}
        self.nsteps = 0
        self.forces = np.zeros_like(pos)
        self.forces[self.active] = self._call(self.pos[self.active])

    def _call(self, pos: np.ndarray) -> np.ndarray:
        f = np.asarray(self.force_fn(pos), dtype=np.float64)
        if f.shape != pos.shape:
            raise ValueError(f"force function returned {f.shape}, expected {pos.shape}")
        return f

    def step(self, n: int = 1) -> None:
        """``n`` BAOAB steps of the running replicas."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"the number of steps must be an integer >= 0, got {n!r}")
        idx = np.flatnonzero(self.active)
        if idx.size == 0:
            return
        x, v, f = self.pos[idx], self.vel[idx], self.forces[idx]  # [R', N, 3] copies
        inv_m = (1.0 / self.masses)[None, :, None]  # [1, N, 1]
        sigma = np.sqrt((1.0 - self.c1**2) * self.kT * inv_m)  # [1, N, 1]
        h = 0.5 * self.dt
        for k in range(n):
            v += h * f * inv_m
            x += h * v
            if self.c1 < 1.0:
                xi = np.stack([self.rngs[r].standard_normal(x.shape[1:]) for r in idx])
                v = self.c1 * v + sigma * xi
            x += h * v
            ok = np.isfinite(x).all(axis=(1, 2)) & np.isfinite(v).all(axis=(1, 2))
            if ok.any():
                f[ok] = self._call(x[ok])
            ok &= np.isfinite(f).all(axis=(1, 2))
            v += h * f * inv_m
            if not ok.all():  # finished where they broke; the others go on
                self.pos[idx], self.vel[idx], self.forces[idx] = x, v, f
                for r in idx[~ok]:
                    self.active[r] = False
                    self.nonfinite[int(r)] = self.nsteps + k + 1
                idx, x, v, f = idx[ok], x[ok], v[ok], f[ok]
                if idx.size == 0:
                    break
        self.pos[idx], self.vel[idx], self.forces[idx] = x, v, f
        self.nsteps += n

    def finish(self, replica: int) -> None:
        """Stop replica ``replica``: it keeps its last state and leaves the batch."""
        self.active[replica] = False

    def temperatures(self) -> np.ndarray:
        """Kinetic temperature of each replica ``[R]`` (K), 3N degrees of freedom."""
        from ase import units

        ke = 0.5 * (self.masses[None, :, None] * self.vel**2).sum(axis=(1, 2))
        return 2.0 * ke / (3 * self.masses.size * units.kB)

    def state_dict(self) -> dict:
        """Everything needed to continue on the same trajectory (numpy arrays and JSON-able)."""
        return {
            "pos": self.pos.copy(),
            "vel": self.vel.copy(),
            "forces": self.forces.copy(),
            "active": self.active.copy(),
            "nsteps": self.nsteps,
            "rng_states": [r.bit_generator.state for r in self.rngs],
            "nonfinite": dict(self.nonfinite),
        }

    def load_state_dict(self, state: dict) -> None:
        shapes = [np.shape(state[k]) for k in ("pos", "vel", "forces")]
        if any(s != self.pos.shape for s in shapes):
            raise ValueError(f"state arrays of shapes {shapes} do not fit {self.pos.shape}")
        if np.shape(state["active"]) != self.active.shape or len(state["rng_states"]) != len(
            self.rngs
        ):
            raise ValueError(
                f"state of {len(state['rng_states'])} replicas does not fit {len(self.rngs)}"
            )
        self.pos = np.array(state["pos"], dtype=np.float64)
        self.vel = np.array(state["vel"], dtype=np.float64)
        self.forces = np.array(state["forces"], dtype=np.float64)
        self.active = np.array(state["active"], dtype=bool)
        self.nsteps = int(state["nsteps"])
        for rng, s in zip(self.rngs, state["rng_states"], strict=True):
            rng.bit_generator.state = s
        self.nonfinite = {int(r): int(k) for r, k in state.get("nonfinite", {}).items()}
