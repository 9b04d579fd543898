#!/usr/bin/env bash
# Rebuilds the page from web/src with the locked toolchain and checks that the committed
# web/dist/ (what the binary embeds) is byte-identical. Needs `npm ci` in web/ first.
set -euo pipefail
web="$(cd "$(dirname "$0")/../web" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
(cd "$web" && DIST="$out" node build.mjs)
if ! diff -r "$web/dist" "$out"; then
  echo "web/dist is stale: run 'npm run build' in dashboard/web and commit dist/" >&2
  exit 1
fi
echo "web/dist matches its sources"
