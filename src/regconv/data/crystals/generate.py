r"""A periodic energy + force + stress data set generated offline: bulk fcc copper on ASE's EMT
potential.

This is the surface of ASE's effective-medium theory for Cu (``ase.calculators.emt.EMT``, Jacobsen
et al. 1996), not DFT: errors on it compare models with each other, never with published tables.
EMT's cost is a few milliseconds per call for 32 atoms, so the whole set (40,500 MD steps) took
5.5 minutes on one core of the project's busy 2-core VM.

Protocol (:func:`generate_copper`): the 2 x 2 x 2 conventional fcc cell (32 atoms) at the lattice
constant :data:`LATTICE_A`; then, one after the other, the :data:`SEGMENTS` (each: a fresh start,
Maxwell-Boltzmann momenta at its temperature, ``equilibration`` steps of its dynamics, then
``frames`` frames one every ``every`` steps):

- ``nvt``: Langevin at a fixed cell (friction 0.01 / fs), 300, 600, 900 and 1,200 K;
- ``strained``: the same at 600 and 1,200 K in a cell under a random strain (normal components
  uniform in ±3 %, shear in ±2 %, drawn per segment);
- ``npt``: ASE's ``Inhomogeneous_NPTBerendsen`` at 0 GPa (time constants 100 fs for temperature
  and 1,000 fs for pressure, Cu's compressibility 7.2e-7 / bar), 300 and 900 K: the cell shape and
  volume move, so frames see many cells;
- ``vacancy``: one atom removed (31 atoms), Langevin at 900 K.

Time step 2 fs. Each frame keeps the energy (eV), forces (eV/Å) and stress (eV/Å³, ASE's sign) of
EMT at its positions and cell. Seeds: ``SeedSequence(seed).spawn(3)`` per segment gives the
momenta, the noise and the strain. Same seed and software, same frames bit for bit.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from regconv.utils.checks import check_int

__all__ = [
    "EVERY",
    "FRAMES_PER_SEGMENT",
    "LATTICE_A",
    "SEGMENTS",
    "Segment",
    "copper_cell",
    "generate_copper",
]

LATTICE_A = 3.6
"""fcc lattice constant of the start, Å (EMT's Cu minimum is near 3.59)."""
TIMESTEP_FS = 2.0
FRICTION_PER_FS = 0.01
FRAMES_PER_SEGMENT = 200
EVERY = 20
"""MD steps between frames (40 fs)."""
EQUILIBRATION = 500
"""MD steps before the first frame of a segment (1 ps)."""
COMPRESSIBILITY_PER_BAR = 7.2e-7
"""Copper's isothermal compressibility (1 / bulk modulus of about 140 GPa)."""


@dataclass(frozen=True)
class Segment:
    """One run of the protocol: ``kind`` (``nvt``, ``strained``, ``npt``, ``vacancy``) at
    ``temperature`` K."""

    kind: str
    temperature: float


SEGMENTS: tuple[Segment, ...] = (
    Segment("nvt", 300.0),
    Segment("nvt", 600.0),
    Segment("nvt", 900.0),
    Segment("nvt", 1200.0),
    Segment("strained", 600.0),
    Segment("strained", 1200.0),
    Segment("npt", 300.0),
    Segment("npt", 900.0),
    Segment("vacancy", 900.0),
)


def copper_cell(reps: int = 2, a: float = LATTICE_A):
    """The ``reps x reps x reps`` conventional fcc Cu cell (``4 reps^3`` atoms), periodic."""
    from ase.build import bulk

    return bulk("Cu", "fcc", a=a, cubic=True).repeat((reps, reps, reps))


def _say(msg: str) -> None:
    print(f"[regconv.crystals] {msg}", file=sys.stderr, flush=True)


def _dynamics(atoms, segment: Segment, rng):
    from ase.md.langevin import Langevin
    from ase.md.nptberendsen import Inhomogeneous_NPTBerendsen

    from ase import units

    if segment.kind == "npt":
        return Inhomogeneous_NPTBerendsen(
            atoms,
            timestep=TIMESTEP_FS * units.fs,
            temperature_K=segment.temperature,
            taut=100 * units.fs,
            pressure_au=0.0,
            taup=1000 * units.fs,
            compressibility_au=COMPRESSIBILITY_PER_BAR / units.bar,
        )
    return Langevin(
        atoms,
        timestep=TIMESTEP_FS * units.fs,
        temperature_K=segment.temperature,
        friction=FRICTION_PER_FS / units.fs,
        rng=rng,
    )


def generate_copper(
    *,
    seed: int = 0,
    frames: int = FRAMES_PER_SEGMENT,
    every: int = EVERY,
    equilibration: int = EQUILIBRATION,
    verbose: bool = True,
    log: Callable[[str], None] | None = None,
) -> list:
    """Run the protocol and return its frames as ASE ``Atoms`` with a single-point calculator
    holding ``energy``, ``forces`` and ``stress`` (``frames`` per segment, :data:`SEGMENTS` in
    order); ``atoms.info`` names the ``segment``, its ``temperature_K`` and the ``md_step``.

    Raises:
        ValueError: a bad number, or non-finite values from the potential.
    """
    frames = check_int("frames", frames, 1)
    every = check_int("every", every, 1)
    equilibration = check_int("equilibration", equilibration, 0)
    seed = check_int("seed", seed, 0)
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    say = log if log is not None else _say
    out = []
    t0 = time.perf_counter()
    streams = np.random.SeedSequence(seed).spawn(len(SEGMENTS))
    for k, segment in enumerate(SEGMENTS):
        rng_momenta, rng_noise, rng_strain = (
            np.random.Generator(np.random.PCG64(s)) for s in streams[k].spawn(3)
        )
        atoms = copper_cell()
        if segment.kind == "vacancy":
            del atoms[0]
        if segment.kind == "strained":
            normal = rng_strain.uniform(-0.03, 0.03, 3)
            shear = rng_strain.uniform(-0.02, 0.02, 3)
            strain = np.diag(normal)
            strain[0, 1] = strain[1, 0] = shear[0]
            strain[0, 2] = strain[2, 0] = shear[1]
            strain[1, 2] = strain[2, 1] = shear[2]
            atoms.set_cell(atoms.cell.array @ (np.eye(3) + strain), scale_atoms=True)
        atoms.calc = EMT()
        MaxwellBoltzmannDistribution(atoms, temperature_K=segment.temperature, rng=rng_momenta)
        Stationary(atoms)
        dyn = _dynamics(atoms, segment, rng_noise)
        if equilibration:
            dyn.run(equilibration)
        for _ in range(frames):
            dyn.run(every)
            energy = atoms.get_potential_energy()
            forces = atoms.get_forces()
            stress = atoms.get_stress(voigt=False)
            if not (np.isfinite(energy) and np.isfinite(forces).all() and np.isfinite(stress).all()):
                raise ValueError(f"segment {k} ({segment}): non-finite EMT values")
            frame = atoms.copy()
            frame.arrays.pop("momenta", None)  # the set holds positions and labels only
            frame.calc = SinglePointCalculator(frame, energy=energy, forces=forces, stress=stress)
            frame.info.update(segment=segment.kind, temperature_K=segment.temperature,
                              md_step=int(dyn.nsteps))  # fmt: skip
            out.append(frame)
        if verbose:
            say(
                f"segment {k + 1}/{len(SEGMENTS)} ({segment.kind}, {segment.temperature:g} K): "
                f"{frames} frames, {time.perf_counter() - t0:.1f} s elapsed"
            )
    return out
