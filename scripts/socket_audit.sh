#!/usr/bin/env bash
# Socket audit (issue 12, case 3): index, search, watch for 60 s and the window for 60 s under
# strace; fails on any socket other than AF_UNIX. Needs strace (apt-get install strace).
# Usage: scripts/socket_audit.sh [seconds]    (about 3 minutes with the default 60 s)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
LOOKALIKE_AUDIT_S=${1:-60} QT_QPA_PLATFORM=offscreen \
    "$PY" -m pytest -q -p no:cacheprovider tests/faults/test_no_network.py
