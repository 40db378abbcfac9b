#!/usr/bin/env bash
# Installs the reference Sigma engine (pySigma and its SQLite backend, from PyPI) into
# ~/.cache/trailhound/sigma-venv unless it is there already; prints the venv's python.
# Used by tests/sigma.rs (which skips with a message when PyPI cannot be reached) and by hand:
#   "$(tools/sigma-reference/install.sh)" tools/sigma-reference/reference.py --rules R --logs L...
set -euo pipefail
VENV="${TRAILHOUND_SIGMA_VENV:-$HOME/.cache/trailhound/sigma-venv}"
PY="$VENV/bin/python"
check='import sigma, sigma.backends.sqlite, importlib.metadata as m; assert m.version("pySigma") == "2.0.1" and m.version("pySigma-backend-sqlite") == "2.1.1"'
if ! "$PY" -c "$check" >/dev/null 2>&1; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        'pySigma==2.0.1' 'pySigma-backend-sqlite==2.1.1' >&2
    "$PY" -c "$check"
fi
echo "$PY"
