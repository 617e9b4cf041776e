#!/usr/bin/env bash
# The reliability suite: fault and fuzz tests that take a few minutes, run by CI after the main
# tests. Tests on the real clips skip with a message when ../shared/data/ultrasound is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
if (($# == 0)); then set -- tests/reliability/*.test.ts; fi
node --import tsx --test --test-concurrency=1 --test-reporter=spec "$@"
