"""``python -m regconv.data.nbody``: the command line of :mod:`regconv.data.nbody.cli`."""

from regconv.data.nbody.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
