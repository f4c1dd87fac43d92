"""``python -m regconv.bench.pes_budget ...``: the energy + force budget benchmark."""

import sys

from regconv.bench.pes_budget.cli import main

if __name__ == "__main__":
    sys.exit(main())
