#!/usr/bin/env bash
# The Python and Lua bindings wrap every vc_* function of include/videocrafter.h.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 test/test_bindings_coverage.py
