#!/usr/bin/env bash
# Validates docker-compose.yml (syntax, interpolation, depends_on conditions, healthchecks) with docker-compose's
# own parser. `config` needs no Docker engine. CI's .ci/run installs docker-compose before `npm test`; elsewhere,
# without it, the check is skipped and says so (and the test summary counts it), but in CI a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  why="docker-compose is not installed (apt-get install -y docker-compose): docker-compose.yml was not validated"
  if [ "${CI:-}" = "true" ]; then
    echo "$why; CI must install it (.ci/run)" >&2
    exit 1
  fi
  echo "skipped: $why" >&2
  if [ -n "${RECQ_SKIP_LOG:-}" ]; then echo "$why" >>"$RECQ_SKIP_LOG"; fi
  exit 0
fi

docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml: valid"
