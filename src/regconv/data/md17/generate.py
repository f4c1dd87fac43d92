"""MD17-like frames generated locally: GFN2-xTB (tblite) Langevin dynamics at 500 K via ASE.

This is a GFN2-xTB potential-energy surface, not rMD17's DFT (PBE/def2-SVP) one: errors on it
compare models with each other, never with published rMD17 tables.

Protocol (:func:`generate_frames`): RDKit start geometry (:mod:`regconv.data.md17.catalog`);
momenta from a Maxwell-Boltzmann distribution at ``temperature`` (ASE ``thermalize_momenta``, the
function ``MaxwellBoltzmannDistribution`` wraps); ASE ``Langevin`` with time step 0.5 fs and
friction 0.01 / fs, the centre of mass fixed by ``FixCom``; ``equilibration`` steps, then one
frame every ``every`` steps. ASE's friction is in inverse ASE time units (1 ASE time unit =
Å sqrt(amu / eV) = 10.18 fs), so 0.01 / fs is passed as ``0.01 / ase.units.fs`` (= 0.1018).
Energies (eV) and forces (eV/Å, the calculator's, without the constraint's correction) become
meV and meV/Å. Seeds: ``SeedSequence(seed).spawn(2)`` gives one PCG64 ``Generator`` for the
momenta and one for the Langevin noise; RDKit embeds with ``randomSeed=seed``. Same seed, same
software and one OpenMP thread -> the same frames bit for bit.

Cost (measured, one thread on the project's shared, busy 2-core machine): 4-5 ms per MD step
for ethanol, 14-31 ms for aspirin, so the default 101,000 steps take ~25-50 min for aspirin
here (~15 min at the ~8 ms per step expected of an idle core). The thermostat's time constant is
1 / friction = 100 fs; the 1,000 equilibration steps (500 fs) bring a start at the MMFF minimum
to the target temperature.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable

import numpy as np

from regconv.data.md17.catalog import INSTALL_HINT, check_molecule, start_geometry
from regconv.data.md17.units import to_mev
from regconv.utils.checks import check_int, check_positive

__all__ = [
    "EQUILIBRATION",
    "EVERY",
    "FRAMES",
    "FRICTION_PER_FS",
    "METHOD",
    "TEMPERATURE_K",
    "TIMESTEP_FS",
    "arrays_sha256",
    "generate_frames",
    "xtb_calculator",
]

FRAMES = 10_000
"""Default number of recorded frames."""
EVERY = 10
"""Default MD steps between recorded frames (10,000 x 10 = 100,000 steps)."""
EQUILIBRATION = 1_000
"""Default MD steps before the first recorded frame."""
TEMPERATURE_K = 500.0
"""Langevin target temperature, K (rMD17's MD ran at 500 K)."""
TIMESTEP_FS = 0.5
"""MD time step, fs."""
FRICTION_PER_FS = 0.01
"""Langevin friction, 1/fs (passed to ASE as ``FRICTION_PER_FS / ase.units.fs``)."""
METHOD = "GFN2-xTB"
"""The tblite method."""

_ARRAY_KEYS = ("z", "pos", "energy", "forces", "md_step")


def _import_md():
    try:
        from tblite.ase import TBLite  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"generating MD17 frames needs tblite: {INSTALL_HINT} (tblite==0.8.0, rdkit==2026.9.1)"
        ) from e
    try:
        import ase  # noqa: F401
    except ImportError as e:  # pragma: no cover - tblite depends on ase
        raise ImportError(f"generating MD17 frames needs ASE: {INSTALL_HINT}") from e


def xtb_calculator():
    """A fresh ``tblite.ase.TBLite(method="GFN2-xTB", verbosity=0)``; ``ImportError`` naming the
    ``md17`` extra if tblite is missing."""
    _import_md()
    from tblite.ase import TBLite

    return TBLite(method=METHOD, verbosity=0)


def arrays_sha256(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) of the generated arrays (key, dtype, shape and bytes of each, in a fixed
    order): equal for equal frames, unlike the hash of an ``.npz`` (zip times differ)."""
    h = hashlib.sha256()
    for key in _ARRAY_KEYS:
        a = np.ascontiguousarray(arrays[key])
        h.update(f"|{key}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _stderr(msg: str) -> None:
    print(f"[regconv.md17] {msg}", file=sys.stderr, flush=True)


def generate_frames(
    molecule: str,
    *,
    frames: int = FRAMES,
    every: int = EVERY,
    equilibration: int = EQUILIBRATION,
    seed: int = 0,
    temperature: float = TEMPERATURE_K,
    verbose: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Run the Langevin GFN2-xTB dynamics of ``molecule`` and record ``frames`` frames.

    Progress (frame count, MD steps, elapsed and remaining time) goes to ``log`` (default:
    stderr) about every 5 % when ``verbose``, and the checksum (:func:`arrays_sha256`) at the end.

    Returns ``z [N]`` int64, ``pos [F, N, 3]`` Å, ``energy [F]`` meV, ``forces [F, N, 3]``
    meV/Å (float64) and ``md_step [F]`` int64 (the MD step of each frame, counted from the
    start of the equilibration).

    Raises:
        ImportError: tblite or RDKit is missing (the message names the ``md17`` extra).
        ValueError: an unknown molecule or a bad number.
    """
    molecule = check_molecule(molecule)
    frames = check_int("frames", frames, 1)
    every = check_int("every", every, 1)
    equilibration = check_int("equilibration", equilibration, 0)
    seed = check_int("seed", seed, 0)
    temperature = check_positive("temperature", temperature)
    _import_md()
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta

    from ase import Atoms, units

    say = log if log is not None else _stderr
    z, pos0 = start_geometry(molecule, seed)
    atoms = Atoms(numbers=z, positions=pos0)
    atoms.set_constraint(FixCom())
    atoms.calc = xtb_calculator()
    rng_momenta, rng_noise = (
        np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(2)
    )
    thermalize_momenta(atoms, temperature_K=temperature, rng=rng_momenta)
    dyn = Langevin(
        atoms,
        timestep=TIMESTEP_FS * units.fs,
        temperature_K=temperature,
        friction=FRICTION_PER_FS / units.fs,  # ASE wants inverse ASE time units
        fixcm=False,  # the centre of mass is held by FixCom (ASE's recommended way)
        rng=rng_noise,
    )
    n = z.shape[0]
    pos = np.empty((frames, n, 3))
    energy = np.empty(frames)
    forces = np.empty((frames, n, 3))
    md_step = np.empty(frames, dtype=np.int64)
    report = max(1, frames // 20)
    t0 = time.perf_counter()
    if verbose:
        say(
            f"{molecule}: GFN2-xTB Langevin MD at {temperature:g} K, seed {seed}: "
            f"{equilibration} equilibration steps, then {frames} frames every {every} steps"
        )
    if equilibration:
        dyn.run(equilibration)
    for k in range(frames):
        dyn.run(every)
        pos[k] = atoms.get_positions()
        energy[k] = atoms.get_potential_energy()  # eV, from the calculator's cache
        forces[k] = atoms.get_forces(apply_constraint=False)  # eV/Å, the surface's own
        md_step[k] = dyn.nsteps
        done = k + 1
        if verbose and (done % report == 0 or done == frames):
            elapsed = time.perf_counter() - t0
            left = elapsed / done * (frames - done)
            say(
                f"{molecule}: frame {done}/{frames} ({100 * done / frames:.0f}%), "
                f"MD step {dyn.nsteps}, {elapsed:.1f} s elapsed, ~{left:.0f} s left"
            )
    arrays = {
        "z": z,
        "pos": pos,
        "energy": to_mev(energy, "eV"),
        "forces": to_mev(forces, "eV/A"),
        "md_step": md_step,
    }
    bad = ~(np.isfinite(arrays["energy"]) & np.isfinite(arrays["forces"]).all(axis=(1, 2)))
    if bad.any():
        raise ValueError(f"{molecule}: non-finite energy or forces at frame {np.argmax(bad)}")
    if verbose:
        say(f"{molecule}: done in {time.perf_counter() - t0:.1f} s, sha256 {arrays_sha256(arrays)}")
    return arrays
