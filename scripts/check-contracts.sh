#!/usr/bin/env bash
# Contract checks: lint, no breaking change against the published baseline, and gen/ exactly what buf makes.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf

"$buf" lint
echo "buf lint: ok"

# --exclude-imports: the well-known types bundled with buf change with its version, and are not ours.
# proto/published.binpb is the image of the contracts as published. A change that breaks existing clients
# fails here until the baseline is moved deliberately, in the same commit: npm run contracts:publish
"$buf" breaking proto --exclude-imports --against proto/published.binpb
echo "buf breaking against proto/published.binpb: ok"

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
sed "s#out: gen#out: $fresh/gen#" buf.gen.yaml >"$fresh/buf.gen.yaml"
"$buf" generate --template "$fresh/buf.gen.yaml"
if ! diff -r "$fresh/gen" gen >/dev/null; then
  diff -r "$fresh/gen" gen | head -40
  echo "gen/ is not what 'buf generate' makes from proto/: run 'npm run generate' and commit gen/." >&2
  exit 1
fi
echo "gen/ is fresh: ok"
