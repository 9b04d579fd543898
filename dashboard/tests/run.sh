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
# The browser tests reach the widget host by name (the registry refuses loopback URLs), in
# a network and mount namespace of their own whose /etc/hosts says widgets.test is
# 127.0.0.1; without root, a user namespace gives the rights inside.
flags=(--net --mount)
[ "$(id -u)" = 0 ] || flags=(--map-root-user "${flags[@]}")
if ! why="$(unshare "${flags[@]}" true 2>&1)"; then
  echo "skipped the browser tests: no network namespace (unshare ${flags[*]}: $why)" >&2
  exit 0
fi
hosts="$(mktemp)"
trap 'rm -f "$hosts"' EXIT
printf '127.0.0.1 localhost\n::1 localhost\n127.0.0.1 widgets.test\n' >"$hosts"
unshare "${flags[@]}" -- bash -ec '
  ip link set lo up
  mount --bind "$1" /etc/hosts
  cd "$2/web"
  node --test --test-concurrency=1 --test-reporter=spec ../tests/browser/dashboard.test.mjs
' _ "$hosts" "$crate"
