"""``python -m regconv.bench NAME ...``: the installed benchmarks (as ``regconv bench NAME``;
the list: :mod:`regconv.bench.commands`)."""

import sys

from regconv.bench.commands import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m regconv.bench"))
