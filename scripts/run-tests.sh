#!/usr/bin/env bash
# Runs every compiled test file (*.test.js) under dist/test with Node's test runner. Files are listed
# explicitly: Node would otherwise also load every helper and fixture under a folder named test.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no compiled test files under dist/test: run npm run build first" >&2
  exit 1
fi
# Every test is bounded: one that hangs fails after two minutes instead of holding CI until its limit.
exec node --test --test-concurrency=2 --test-timeout=120000 "$@" "${files[@]}"
