#!/usr/bin/env bash
# Sets everything up (incl. the offline demo and Debian's chromium for browser tests), then runs the whole
# test suite: unit, app (AppTest) and end-to-end (Playwright + chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install_chromium.sh
# Two pytest workers on two cores: one BLAS thread each avoids oversubscription (10-80x slowdowns seen).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
