#!/bin/bash
# fuzz.sh (make check-more) - replays test/fuzz/regress/* and runs every fuzz target
# for ~5 seconds (FUZZ_CHECK_SECONDS); skips with a message when clang's libFuzzer is missing.
exec bash "$(dirname "$0")/fuzz/run.sh" "${FUZZ_CHECK_SECONDS:-5}"
