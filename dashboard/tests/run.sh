#!/usr/bin/env bash
# Every dashboard test, with what it needs: Chromium (installed with apt-get when missing
# and running as root), the locked npm packages, the registry and dashboard binaries.
# Then: the bundle freshness check, the Rust tests, the browser tests.
# Screenshots land in $CARGO_TARGET_DIR/dashboard-screenshots/.
set -euo pipefail
crate="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(cd "$crate/.." && pwd)/target}"
cargo="${CARGO:-cargo}"

if [ -z "${CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
  else
    echo "Chromium is missing: install the Debian package chromium or set CHROMIUM" >&2
    exit 1
  fi
fi
(cd "$crate/web" && npm ci --no-audit --no-fund)
bash "$crate/tests/bundle_is_fresh.sh"
$cargo build -p registry -p dashboard
$cargo test -p dashboard
# In a namespace where widgets.test names the widget host (see in_namespace.sh).
cd "$crate/web"
bash "$crate/tests/in_namespace.sh" node --test --test-concurrency=1 --test-reporter=spec ../tests/browser/dashboard.test.mjs
