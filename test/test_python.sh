#!/usr/bin/env bash
# Python bindings: the pytest suite in bindings/python/tests against $BUILD/libvideocrafter.so.1.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export VIDEOCRAFTER_LIB="$PWD/$BUILD/libvideocrafter.so.1"
export BUILD
export VC_TEST_DATA=${VC_TEST_DATA:-$(cd .. && pwd)/shared/reference}
export PYTHONDONTWRITEBYTECODE=1
# the first interpreter that has pytest and numpy (a pyenv python3 on PATH may not see Debian's)
PY=""
for cand in ${PYTHON:-} python3 /usr/bin/python3; do
    if "$cand" -c 'import pytest, numpy' 2>/dev/null; then PY=$cand; break; fi
done
if [ -z "$PY" ]; then
    echo "test_python.sh: no python3 with pytest and numpy (Debian: apt-get install python3-pytest python3-numpy)" >&2
    exit 1
fi
# -p no:cacheprovider: leave no .pytest_cache in the source tree
exec "$PY" -m pytest -q -rs -p no:cacheprovider bindings/python/tests "$@"
