#!/usr/bin/env bash
# The test command: type check, lint, format check, then every test on real GStreamer, SQLite,
# onnxruntime and mosquitto. Tests that need the real clips skip with a message when
# ../shared/data/ultrasound is absent (BV_EDGE_ULTRASOUND_DIR points elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== type check"
npx tsc --noEmit -p .
echo "== lint"
npx eslint --max-warnings 0 .
echo "== format"
npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
echo "== tests"
if (($# == 0)); then set -- tests/*.test.ts; fi
node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"
