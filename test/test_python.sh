#!/usr/bin/env bash
# Python bindings: the pytest suite in bindings/python/tests against $BUILD/libvideocrafter.so.1.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export VIDEOCRAFTER_LIB="$PWD/$BUILD/libvideocrafter.so.1"
export BUILD
export VC_TEST_DATA=${VC_TEST_DATA:-$(cd .. && pwd)/shared/reference}
PY=${PYTHON:-python3}
export PYTHONDONTWRITEBYTECODE=1
if ! "$PY" -c 'import pytest, numpy' 2>/dev/null; then
    echo "test_python.sh: $PY lacks pytest or numpy (Debian: apt-get install python3-pytest python3-numpy)" >&2
    exit 1
fi
# -p no:cacheprovider: leave no .pytest_cache in the source tree
exec "$PY" -m pytest -q -rs -p no:cacheprovider bindings/python/tests "$@"
