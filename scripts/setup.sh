#!/usr/bin/env bash
# Create or reuse the project-local virtual environment .venv and install regconv into it.
# Reinstalls only when pyproject.toml changed since the last install. No global state.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($PY --version 2>&1)"
    "$PY" -m venv .venv
fi
stamp=.venv/.regconv-installed
want=$(cat pyproject.toml "$0" | sha256sum | cut -d" " -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[setup] installing regconv and its dependencies into .venv (about 1-2 minutes)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,ase,md17,bench]"
    echo "$want" > "$stamp"
fi
