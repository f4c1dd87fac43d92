"""ASE interface of trained energy + force models: :class:`RegconvCalculator`."""

from regconv.ase.calculator import RegconvCalculator

__all__ = ["RegconvCalculator"]
