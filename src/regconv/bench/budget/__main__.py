"""``python -m regconv.bench.budget ...``: the budget benchmark (as ``regconv bench budget``)."""

import sys

from regconv.bench.budget.cli import main

if __name__ == "__main__":
    sys.exit(main())
