"""``python -m regconv.data.md17``: the command line of :mod:`regconv.data.md17.cli`."""

from regconv.data.md17.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
