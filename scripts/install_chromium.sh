#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests and kaleido image export, only if it is missing.
# Playwright's own browser download does not work offline, so the tests drive /usr/bin/chromium.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "[chromium] $CHROMIUM is missing and this user cannot install packages;" \
         "run as root: apt-get install -y chromium" >&2
    exit 1
  fi
fi
echo "[chromium] installing Debian's chromium (once)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
[ -x "$CHROMIUM" ] || { echo "[chromium] install finished but $CHROMIUM is still missing" >&2; exit 1; }
echo "[chromium] $("$CHROMIUM" --version 2>/dev/null || echo installed)"
