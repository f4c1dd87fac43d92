"""Data sets (QM9, charged N-body) as PyG ``Data`` objects. No model code lives here."""
