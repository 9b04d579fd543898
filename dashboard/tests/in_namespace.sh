#!/usr/bin/env bash
# Runs a command in a network and mount namespace of its own: loopback only, with an
# /etc/hosts that names the test widget host widgets.test (127.0.0.1). The registry refuses
# widget URLs that name loopback literally, so the browser tests and the benchmark reach
# their widget host by that name (and the dashboard fetches from it with --bundle-allow).
# Without root, a user namespace gives the rights inside. Where no namespace can be made,
# it says so and exits 0 without running the command.
set -euo pipefail
flags=(--net --mount)
[ "$(id -u)" = 0 ] || flags=(--map-root-user "${flags[@]}")
if ! why="$(unshare "${flags[@]}" true 2>&1)"; then
  echo "skipped: no network namespace (unshare ${flags[*]}: $why): $*" >&2
  exit 0
fi
hosts="$(mktemp)"
trap 'rm -f "$hosts"' EXIT
printf '127.0.0.1 localhost\n::1 localhost\n127.0.0.1 widgets.test\n' >"$hosts"
unshare "${flags[@]}" -- bash -ec 'ip link set lo up; mount --bind "$1" /etc/hosts; shift; exec "$@"' _ "$hosts" "$@"
