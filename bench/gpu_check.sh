#!/usr/bin/env bash
# The GPU checks of transvis in one short run, for a session that is lent a CUDA machine.
#
# That machine has torch, timm, scipy, scikit-learn, pytest and hypothesis preinstalled (no .venv, no network),
# so this runs the repository in place with its python3. From the repository root:
#
#     bash bench/gpu_check.sh            # about 3-5 minutes on one H100/H200; writes to $OUT (or bench/gpu_out)
#
# It records, each in its own file: the CUDA-only and backend tests (extraction with autocast + channels-last
# against CPU, OOM back-off, every refvector through the torch-CUDA metric backend, which `backend="auto"`
# picks when a GPU is visible), bench/extract.py on the GPU (pipeline vs bare forward, target >= 85%) and
# bench/metrics.py with the torch backend. Copy the tables into bench/README.md with the card's name.
# GPU_CHECK_ALLOW_CPU=1 dry-runs it on a machine without a GPU (for testing the script itself).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/gpu_out}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
if ! "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  if [ "${GPU_CHECK_ALLOW_CPU:-0}" != "1" ]; then
    echo "[gpu_check] no CUDA GPU visible to $py; nothing to check (GPU_CHECK_ALLOW_CPU=1 dry-runs on CPU)" >&2
    exit 2
  fi
  device=cpu quick=1
else
  device=cuda quick=0
fi
"$py" - <<'EOF' 2>&1 | tee "$out/gpu_env.txt"
import platform, torch, timm, numpy, scipy
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
print(f"python {platform.python_version()} torch {torch.__version__} timm {timm.__version__} "
      f"numpy {numpy.__version__} scipy {scipy.__version__} gpu {gpu}")
EOF
status=0
# Tests: extraction on the device, and the metric suite through backend="auto" (torch on CUDA there).
"$py" -m pytest -q -p no:cacheprovider -x \
  tests/unit/test_extract.py tests/unit/test_refvectors.py tests/unit/test_shared_stats.py \
  2>&1 | tee "$out/gpu_tests.txt" || status=1
if [ "$quick" = 1 ]; then
  extract_args=(--n 64 --batch-size 32 --input-size 64 --repeats 1 --models resnet18)
  metric_args=(--sizes 2000x256x10 --no-official --models 2 --jobs 1)
else
  extract_args=(--device cuda --n 4096 --batch-size 256 --input-size 224 --repeats 2)
  metric_args=(--sizes 20000x2048x100 --no-official --models 4 --jobs 1)
fi
"$py" bench/extract.py "${extract_args[@]}" 2>&1 | tee "$out/gpu_extract.txt" || status=1
"$py" bench/metrics.py --backend torch "${metric_args[@]}" 2>&1 | tee "$out/gpu_metrics.txt" || status=1
echo "[gpu_check] device=$device status=$status; files in $out"
exit $status
