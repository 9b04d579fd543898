#!/usr/bin/env bash
# Benchmarks this tree against an earlier build, side by side in one run: what a refactor
# must show does not regress. On one synthetic mesh of N products (default 1000):
#   - `dappctl validate`, cold (nothing remembered);
#   - `dappctl render --out DIR` into an empty directory, and `--out -` (the stream);
#   - the operator reconciling every product of the dev environment to Ready
#     (operator/examples/reconcile_bench.rs, against tests/apiserver on 127.0.0.1).
#
#   tests/bench/compare.sh OLD_DAPPCTL OLD_OPERATOR [N]
#
# OLD_* are release binaries of the earlier build, e.g. from a worktree of its commit:
#   git worktree add ../old <commit> && (cd ../old && cargo build --release -p dappctl -p operator)
# Both dappctl binaries must accept the mesh; the newer build's generator writes it.
# Prints hyperfine's table and medians, then the operator's figures for each binary.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 OLD_DAPPCTL OLD_OPERATOR [N]" >&2; exit 2; }
old_dappctl=$(realpath "$1")
old_operator=$(realpath "$2")
N=${3:-1000}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-15}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
need hyperfine hyperfine
need /usr/bin/time time
need pkill procps

log "building release binaries..."
cargo build --release --quiet -p dappctl --bin dappctl --example synthetic_mesh
cargo build --release --quiet -p operator --bin operator --example reconcile_bench
new_dappctl=$root/target/release/dappctl
new_operator=$root/target/release/operator

work=$(mktemp -d "${TMPDIR:-/tmp}/compare-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export DAPPCTL_CACHE_DIR="$work/cache"
target/release/examples/synthetic_mesh "$N" "$work/mesh" >&2
for bin in "$old_dappctl" "$new_dappctl"; do
    "$bin" validate --strict "$work/mesh" >/dev/null ||
        { log "error: $bin does not accept the mesh"; exit 1; }
done

commands=()
for which in old new; do
    bin=$old_dappctl
    [ $which = new ] && bin=$new_dappctl
    commands+=(
        -n "validate, $which" --prepare "rm -rf '$work/cache'" "$bin validate $work/mesh"
        -n "render into an empty directory, $which" --prepare "rm -rf '$work/out-$which' '$work/cache'"
        "$bin render $work/mesh --out $work/out-$which"
        -n "render --out -, $which" --prepare "true" "$bin render $work/mesh --out -"
    )
done
log "timing dappctl..."
hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-markdown "$work/times.md" --export-json "$work/times.json" "${commands[@]}" >&2
diff -r "$work/out-old" "$work/out-new" >/dev/null ||
    { log "error: the two builds render different files"; exit 1; }

echo "## $N products: the earlier build and this one ($(nproc) cores, $RUNS runs after $WARMUP warmups)"
echo
cat "$work/times.md"
echo
python3 - "$work/times.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"- {r['command']}: median {r['median'] * 1000:.0f} ms")
PY
echo
echo "## the operator, $N products of the dev environment to Ready"
echo
"$new_dappctl" render "$work/mesh" --env dev --out "$work/rendered" >&2
for which in old new; do
    operator=$old_operator
    [ $which = new ] && operator=$new_operator
    echo "- $which: $(target/release/examples/reconcile_bench "$work/rendered" "$operator" | sed 1d | paste -sd ";" | sed "s/;/, /g")"
done
