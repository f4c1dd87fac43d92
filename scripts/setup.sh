#!/usr/bin/env bash
# Create or reuse the project-local virtual environment .venv and install regconv into it.
# Usage: bash scripts/setup.sh [EXTRAS]   (comma-separated; default dev,ase,md17)
# Reinstalls only when pyproject.toml changed since the last install or an extra is missing.
# No global state.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=${1:-dev,ase,md17}
if [ ! -x .venv/bin/python ]; then
    echo "[setup] creating .venv with $($PY --version 2>&1)"
    "$PY" -m venv .venv
fi
stamp=.venv/.regconv-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
have_hash=""
have_extras=""
if [ -f "$stamp" ]; then
    have_hash=$(sed -n 1p "$stamp")
    have_extras=$(sed -n 2p "$stamp")
fi
missing=0
IFS=, read -r -a wanted <<< "$extras"
for e in "${wanted[@]}"; do
    [ -z "$e" ] && continue
    case ",$have_extras," in *",$e,"*) ;; *) missing=1 ;; esac
done
if [ "$have_hash" != "$want" ] || [ "$missing" = 1 ]; then
    if [ "$have_hash" = "$want" ] && [ -n "$have_extras" ]; then
        extras="$have_extras,$extras"  # keep what is installed
    fi
    extras=$(echo "$extras" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)
    echo "[setup] installing regconv[$extras] and its dependencies into .venv (about 1-2 minutes)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
    printf '%s\n%s\n' "$want" "$extras" > "$stamp"
fi
# Build (or find in the cache) the native CPU kernels now rather than in the first command that
# needs them; without a C++ compiler this warns and regconv uses its PyTorch kernels.
.venv/bin/python -c "from regconv.ops import native; native.load()"
