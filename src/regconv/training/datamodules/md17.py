"""Energy + force frames (:class:`regconv.data.md17.MD17`): a user's file, a generated molecule
set or the generated periodic copper set."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset, Subset

from regconv.training.datamodules.base import GraphDataModule
from regconv.training.spec import energy_forces_task
from regconv.utils.checks import optional_int

__all__ = ["MD17DataModule"]


class MD17DataModule(GraphDataModule):
    """Energy + force frames (:class:`regconv.data.md17.MD17`): a user's rMD17 / sGDML ``.npz``,
    extended XYZ or ASE database (``path``), a generated GFN2-xTB set (``molecule``) or a
    generated periodic set (``crystal``).

    Args:
        path: the user's file; molecule: a generated molecule (e.g. ``"aspirin"``); crystal:
            ``"copper"`` (EMT, with stress; :mod:`regconv.data.crystals`, generated and cached
            on first use); exactly one.
        scheme: None (the default: ``"random"`` for ``crystal``, else ``"ponita"``),
            ``"ponita"`` (of the first 100,000 frames every 100th, every 20th of those to
            validation: 950 / 50 / the rest), ``"random"`` (950 / 50 / rest, seeded) or
            ``"rmd17"`` (the published split files); split_seed: the ``random`` scheme's seed.
        energy_key, forces_key: key names in extended XYZ / ASE files.
        stress: train on (and report) the stress of periodic frames too; every frame must carry
            it. stress_key, virial_key: its key names (eV/Å³ stress, or eV virial; MACE's
            ``--stress_key`` / ``--virials_key``).
        frames: size of the generated set (``molecule``; None: the generator's default, 10,000
            frames of every 10th of 100,000 MD steps); generated and cached on first use.
        test_subset: keep the first ``n`` test frames (None: all).
        batch_size, eval_batch_size, num_workers, seed, drop_last: see
            :class:`GraphDataModule`.
    """

    def __init__(
        self,
        *,
        path: str | None = None,
        molecule: str | None = None,
        crystal: str | None = None,
        scheme: str | None = None,
        split_seed: int = 0,
        energy_key: str = "energy",
        forces_key: str = "forces",
        stress: bool = False,
        stress_key: str = "stress",
        virial_key: str = "virial",
        frames: int | None = None,
        test_subset: int | None = None,
        batch_size: int = 5,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        seed: int | None = None,
        drop_last: bool = True,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            num_workers=num_workers,
            seed=seed,
            drop_last=drop_last,
        )
        if sum(x is not None for x in (path, molecule, crystal)) != 1:
            raise ValueError("MD17DataModule needs exactly one of path=, molecule= or crystal=")
        if crystal is not None and crystal != "copper":
            raise ValueError(f"unknown crystal {crystal!r}; generated: copper")
        self.crystal = crystal
        if scheme is None:  # PONITA's rule needs rMD17's 100,000 frames; the copper set has 1,800
            scheme = "random" if crystal is not None else "ponita"
        optional_int("test_subset", test_subset)
        self.path, self.molecule, self.scheme, self.split_seed = path, molecule, scheme, split_seed
        self.keys = {"energy_key": energy_key, "forces_key": forces_key}
        if not isinstance(stress, bool):
            raise ValueError(f"stress must be a bool, got {stress!r}")
        self.stress = stress
        if molecule is None:
            self.keys.update(stress_key=stress_key, virial_key=virial_key)
        elif stress:
            raise ValueError("the generated molecule sets have no stress: stress=True needs "
                             "path= or crystal=")  # fmt: skip
        if optional_int("frames", frames) is not None:
            if molecule is None:
                raise ValueError("frames sets the size of a generated set: it needs molecule=")
            self.keys["frames"] = frames
        self.test_subset = test_subset

    @property
    def task_spec(self) -> dict[str, Any]:
        return energy_forces_task(self.molecule or self.crystal or "md17", stress=self.stress)

    def build_dataset(self, split: str) -> Dataset:
        from regconv.data.md17 import MD17

        path = self.path
        if self.crystal == "copper":
            from regconv.data.crystals import ensure_copper

            path = str(ensure_copper())
        ds = MD17(path, self.molecule, split, self.scheme, self.split_seed, **self.keys)
        if self.stress and ds.frames.stress is None:
            missing = ds.frames.metadata.get("stress_missing_frame", 0)
            raise ValueError(
                f"{path}: stress=True but frame {missing} carries no stress (keys "
                f"{self.keys['stress_key']!r} / {self.keys['virial_key']!r}): every frame must"
            )
        if split == "test" and self.test_subset is not None and self.test_subset < len(ds):
            ds = Subset(ds, range(self.test_subset))
        return ds

    def split_info(self) -> dict[str, Any]:
        records = {}
        for split in ("train", "val", "test"):
            ds = self.dataset(split)
            base = ds.dataset if isinstance(ds, Subset) else ds
            records[split] = {"size": len(ds), "record": base.split_record}
        return {"dataset": "md17", "path": self.path, "molecule": self.molecule,
                "crystal": self.crystal, "splits": records}  # fmt: skip
