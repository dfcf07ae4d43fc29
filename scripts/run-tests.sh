#!/usr/bin/env bash
# Runs the tests on jest: all tiers, or what the arguments select (`--selectProjects unit`, a file's path, `-t`
# and a test's name). Run alone, it ends by saying what was skipped for want of a tool; under `npm test`
# (scripts/test.sh) the whole run's summary says it.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ ! -f services/gateway/dist/main.js ]; then
  echo "the packages are not built: run npm run build first" >&2
  exit 1
fi
own_log=""
if [ -z "${RECQ_SKIP_LOG:-}" ]; then
  own_log=$(mktemp)
  export RECQ_SKIP_LOG="$own_log"
  trap 'rm -f "$own_log"' EXIT
fi
node_modules/.bin/jest "$@"
status=$?
if [ -n "$own_log" ]; then bash scripts/skip-summary.sh "$own_log"; fi
exit $status
