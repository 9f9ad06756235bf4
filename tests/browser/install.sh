#!/usr/bin/env bash
# Installs what the browser test needs, idempotently: Debian's chromium (Playwright cannot download its
# own browsers here and does not need to) and the pinned Playwright packages into the project's .venv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
VENV_PIP=".venv/bin/pip"
CHROMIUM=/usr/bin/chromium
PACKAGES=(
    playwright==1.65.2
    pytest-playwright==0.10.0
)

if [ ! -x "$CHROMIUM" ]; then
    echo "Installing Debian's chromium"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi
"$CHROMIUM" --version 2>/dev/null | tail -n 1

if [ ! -x "$VENV_PIP" ]; then
    echo "No $VENV_PIP: run 'make venv' first" >&2
    exit 1
fi
if ! .venv/bin/python - "${PACKAGES[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version

for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
    echo "Installing ${PACKAGES[*]}"
    "$VENV_PIP" install --progress-bar off "${PACKAGES[@]}"
fi
.venv/bin/python -c 'from importlib.metadata import version as v; print("playwright", v("playwright"), "pytest-playwright", v("pytest-playwright"))'
