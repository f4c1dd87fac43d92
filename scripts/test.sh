#!/usr/bin/env bash
# Set up .venv (if needed) and run the whole test suite. Exit status is pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev,ase,md17,bench   # bench: mace-torch, the reference of the MD tests
# One torch thread per test process: the suite never oversubscribes a 2-core machine.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
exec .venv/bin/python -m pytest -q "$@"
