#!/usr/bin/env bash
# Validates docker-compose.yml (syntax, interpolation, depends_on conditions, healthchecks) with docker-compose's
# own parser. `config` needs no Docker engine. CI's .ci/run installs docker-compose before `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "docker-compose is not installed: it validates docker-compose.yml. Install it with: apt-get install -y docker-compose" >&2
  exit 1
fi

docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml: valid"
