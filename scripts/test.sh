#!/usr/bin/env bash
# Sets everything up (incl. the offline demo and Debian's chromium for browser tests), then runs the whole
# test suite: unit, app (AppTest) and end-to-end (Playwright + chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Ray is an optional extra (transvis --cluster): the tests need it, the app does not (scripts/app.sh skips it).
ray_stamp=.venv/.transvis-requirements-ray
ray_want=$(sha256sum requirements-ray.txt | cut -d' ' -f1)
if [ "$(cat "$ray_stamp" 2>/dev/null)" != "$ray_want" ]; then
  echo "[test] installing the pinned Ray extra into .venv (requirements-ray.txt)"
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/python -m pip install -q -r requirements-ray.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import ray" || { echo "[test] Ray failed to import; see the pip output above" >&2; exit 1; }
  echo "$ray_want" > "$ray_stamp"
fi
bash scripts/install_chromium.sh
# Two pytest workers on two cores: one BLAS thread each avoids oversubscription (10-80x slowdowns seen).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
