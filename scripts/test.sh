#!/usr/bin/env bash
# `npm test`: every check, in order — contracts (buf lint, buf breaking, gen/ freshness), the compose file, the
# build (type checking), lint (eslint, package boundaries), then every test tier — and at the end what was
# skipped for want of a tool, and why.
set -euo pipefail
cd "$(dirname "$0")/.."
export RECQ_SKIP_LOG
RECQ_SKIP_LOG=$(mktemp)
trap 'rm -f "$RECQ_SKIP_LOG"' EXIT
npm run test:contracts
npm run test:compose
npm run build
npm run lint
bash scripts/run-tests.sh
bash scripts/skip-summary.sh "$RECQ_SKIP_LOG"
