#!/usr/bin/env bash
# Sets everything up, prepares the offline demo, and launches the app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run app.py "$@"
