#!/usr/bin/env bash
# Long fault runs (issue 12), too slow for the default test run:
#  - 60 SIGKILLs of `lookalike index` over open-and-repair, scan, embed and save, with checks
#    after each (nothing lost, duplicated or stale; index count = catalog count);
#  - watcher churn: 3,000 file operations, the root renamed away and back, catalog = disk;
#  - 60 SIGKILLs of `lookalike index --preset P` during model switches (issue 11): after each,
#    searches find their photo with the library's own model, the switch resumes and completes.
# Usage: scripts/fault_runs.sh [kills] [churn operations]    (about 10 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
LOOKALIKE_KILLS=${1:-60} LOOKALIKE_SWITCH_KILLS=${1:-60} LOOKALIKE_KILL_PHOTOS=300 LOOKALIKE_CHURN_OPS=${2:-3000} \
    "$PY" -m pytest -q -s -p no:cacheprovider tests/faults/test_kill_loop.py \
    tests/faults/test_churn.py tests/faults/test_switch_kills.py
