"""The research harnesses that produced BENCHMARKS.md's comparison tables (not installed).

Run them from the repository root: ``python -m benchmarks NAME [options]`` (the list:
``python -m benchmarks --help``, :data:`benchmarks.__main__.HARNESSES`). They use regconv like
any user, through its public names only; the benchmarks a user runs on their own models
(throughput, device throughput, the grid error) are installed: ``regconv bench NAME``.
"""
