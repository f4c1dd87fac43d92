#!/usr/bin/env bash
# GPU check, for a machine with a CUDA GPU (run in the repository root, at most ~8 minutes):
#   bash scripts/gpu_check.sh [OUT]          (default OUT: $OUT, else runs/gpu_check-<date>)
# 1. tests/devices on CUDA (every registered model on the GPU against the float64 CPU reference,
#    energy + forces with second derivatives on the GPU) and the fused-op tests;
# 2. throughput at the PONITA size (hidden 128, 5 layers, 16 orientations, basis 256, degree 3,
#    full graphs; QM9 batches of 96): r3s2 (exact and tabulated kernel), schnet and PyG
#    DimeNet++, in fp32, TF32 and bf16 autocast, then torch.compile of r3s2 in fp32.
# Writes OUT/gpu.txt (torch, GPU), OUT/tests.txt (pytest), OUT/throughput.jsonl (JSON lines).
# Uses .venv/bin/python if present, else $PYTHON or python, with regconv from src/.
set -uo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-python}
[ -x .venv/bin/python ] && py=.venv/bin/python
out=${1:-${OUT:-runs/gpu_check-$(date +%F)}}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

"$py" - <<'PY' | tee "$out/gpu.txt" || exit 1
import torch
assert torch.cuda.is_available(), "no CUDA device: this script is for a GPU machine"
print("torch", torch.__version__, "cuda", torch.version.cuda, "|", torch.cuda.get_device_name(0))
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >>"$out/gpu.txt" 2>&1 || true

timeout 240 "$py" -m pytest -q -p no:cacheprovider tests/devices tests/ops >"$out/tests.txt" 2>&1
echo "tests: exit $? (tail of $out/tests.txt:)"; tail -n 3 "$out/tests.txt"

bench=("$py" -m benchmarks device-throughput --device cuda --config ponita --batch-size 96)
timeout 180 "${bench[@]}" --models r3s2 r3s2:table=None schnet dimenet++-pyg \
    --precisions fp32 tf32 bf16 >"$out/throughput.jsonl"
echo "throughput: exit $?"
timeout 150 "${bench[@]}" --models r3s2 --precisions fp32 --compile --warmup 5 >>"$out/throughput.jsonl"
echo "compile: exit $?"
"$py" - "$out/throughput.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "error" in r:
        print(f"{r['model']:28s} {r['precision']:5s} compile={r['compile']!s:5s} ERROR {r['error'][:80]}")
    else:
        mem = r.get("peak_device_memory_mb") or float("nan")
        print(f"{r['model']:28s} {r['precision']:5s} compile={r['compile']!s:5s} {r['mode']:5s} "
              f"{r['molecules_per_s']:9.1f} mol/s  peak {mem:7.0f} MB")
PY
