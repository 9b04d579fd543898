#!/usr/bin/env bash
# The dashboard benchmark: builds release binaries, then runs bench.mjs (50 widgets in a
# real registry, headless Chromium), in a network namespace like the browser tests (see
# tests/in_namespace.sh). Needs `npm ci` in web/ and Chromium, like the tests.
set -euo pipefail
crate="$(cd "$(dirname "$0")" && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd "$crate/.." && pwd)/target}"
profile="${BENCH_PROFILE:-release}"
${CARGO:-cargo} build --profile "$profile" -p registry -p dashboard
dir="$profile"
[ "$profile" = dev ] && dir=debug
export REGISTRY_BIN="$CARGO_TARGET_DIR/$dir/registry" DASHBOARD_BIN="$CARGO_TARGET_DIR/$dir/dashboard"
cd "$crate" && bash tests/in_namespace.sh node bench.mjs
