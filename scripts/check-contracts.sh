#!/usr/bin/env bash
# Contract checks: lint, no breaking change against the published baselines, and every package's gen/ exactly
# what buf makes.
set -euo pipefail
cd "$(dirname "$0")/.."
buf=node_modules/.bin/buf

"$buf" lint
echo "buf lint: ok"

# Each module with a published contract is checked against its own baseline image (published.binpb beside its
# proto/). --exclude-imports: the well-known types bundled with buf change with its version, and are not ours.
# A change that breaks existing clients fails here until the baseline is moved deliberately, in the same
# commit: npm run contracts:publish
for package in services/protocol services/todo; do
  "$buf" breaking "$package/proto" --exclude-imports --against "$package/published.binpb"
  echo "buf breaking $package/proto against $package/published.binpb: ok"
done

fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
"$buf" generate -o "$fresh"
for gen in services/*/gen; do
  if ! diff -r "$fresh/$gen" "$gen" >/dev/null; then
    diff -r "$fresh/$gen" "$gen" | head -40
    echo "$gen is not what 'buf generate' makes: run 'npm run generate' and commit it." >&2
    exit 1
  fi
done
if [ "$(cd "$fresh" && find services -maxdepth 2 -name gen | sort)" != "$(find services -maxdepth 2 -name gen | sort)" ]; then
  echo "buf generate makes a different set of gen/ folders than the packages hold: run 'npm run generate' and commit them." >&2
  exit 1
fi
echo "gen/ of every package is fresh: ok"
