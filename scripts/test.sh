#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite (unit, app, end-to-end).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Two pytest workers on two cores: one BLAS thread each avoids oversubscription (10-80x slowdowns seen).
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} MKL_NUM_THREADS=${MKL_NUM_THREADS:-1}
exec .venv/bin/python -m pytest -n 2 --dist loadgroup "$@"
