#!/usr/bin/env bash
# Benchmarks the operator: N DataProducts (default 1000) of a synthetic mesh reconciled to
# Ready, against the test API server (tests/apiserver) on 127.0.0.1.
#
#   tests/bench/operator.sh [N]
#
# Builds the release binaries, writes the mesh (`synthetic_mesh` example), renders its dev
# environment with dappctl, and runs operator/examples/reconcile_bench.rs, which applies the
# CRD, namespaces, mesh ConfigMap and every DataProduct, runs the operator under GNU time and
# waits until every product is Ready. Prints products, seconds, products/s, peak RSS.
# The target (issue 6): peak RSS at most 64 MiB for 1,000 products.
set -euo pipefail

N=${1:-1000}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
need /usr/bin/time time
need pkill procps

case $N in
'' | *[!0-9]*) log "usage: $0 [N]"; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/operator-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "building..."
cargo build --release --quiet -p dappctl --bin dappctl --example synthetic_mesh
cargo build --release --quiet -p operator --bin operator --example reconcile_bench
log "writing a mesh of $N products..."
target/release/examples/synthetic_mesh "$N" "$work/mesh" >&2
target/release/dappctl render "$work/mesh" --env dev --out "$work/rendered" >&2
log "reconciling..."
target/release/examples/reconcile_bench "$work/rendered" "$root/target/release/operator"
