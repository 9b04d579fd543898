#!/usr/bin/env bash
# Benchmarks `dappctl validate` on synthetic meshes of 100, 1,000 and 10,000 data products.
#
#   tests/bench/validate.sh            # from anywhere in the repository
#   SIZES="100 1000" RUNS=20 tests/bench/validate.sh
#
# Builds the release binary and the `synthetic_mesh` example, writes each mesh into a
# temporary directory, checks that dappctl accepts it (exit 0, no warning), then prints:
#   - hyperfine's markdown table (mean ± σ wall time) and the median for every size, cold and
#     with every file remembered as valid from the run before, on stdout;
#   - the maximum resident set size of one run per size, from /usr/bin/time -v.
# Progress goes to stderr, so `validate.sh > bench.md` keeps only the results.
#
# Needs hyperfine and GNU time (`apt-get install -y hyperfine time`); installs them with
# apt-get when they are missing and it runs as root.
set -euo pipefail

SIZES=${SIZES:-"100 1000 10000"}
WARMUP=${WARMUP:-3}
RUNS=${RUNS:-30}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"

need hyperfine hyperfine
need /usr/bin/time time

log "building release binaries..."
cargo build --release --quiet -p dappctl --bin dappctl --example synthetic_mesh >&2
target=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target/release/dappctl"
gen="$target/release/examples/synthetic_mesh"

work=$(mktemp -d "${TMPDIR:-/tmp}/dappctl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export DAPPCTL_CACHE_DIR="$work/cache"

commands=()
for n in $SIZES; do
    dir="$work/mesh-$n"
    "$gen" "$n" "$dir" 2>/dev/null
    # The benchmark is only meaningful on a mesh dappctl accepts without a word.
    summary=$("$bin" validate --strict --format json "$dir" | tr -d ' \n' |
        sed -n 's/.*"summary":{\([^}]*\)}.*/\1/p')
    case $summary in
    *'"errors":0,"warnings":0'*) log "mesh-$n: valid ($summary)" ;;
    *)
        log "error: dappctl does not accept the synthetic mesh of $n products: $summary"
        exit 1
        ;;
    esac
    # Cold: nothing remembered. Remembered: every file valid in the run before (the memo in
    # dappctl's cache), so only the rules across documents run again.
    commands+=(
        -n "N=$n" --prepare "rm -rf '$work/cache'" "$bin validate $dir"
        -n "N=$n, remembered" --prepare "true" "$bin validate $dir"
    )
done

log "timing..."
hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-markdown "$work/times.md" --export-json "$work/times.json" "${commands[@]}" >&2

echo "## dappctl validate: wall time ($(nproc) cores, $RUNS runs after $WARMUP warmups)"
echo
cat "$work/times.md"
echo
# The median, beside hyperfine's mean: on a shared virtual machine a few runs stall, and
# the mean follows them.
python3 - "$work/times.json" <<'PY'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"- {r['command']}: median {r['median'] * 1000:.1f} ms")
PY
echo
echo "## dappctl validate: memory"
echo
echo "| N | files | max RSS |"
echo "|--:|--:|--:|"
for n in $SIZES; do
    dir="$work/mesh-$n"
    files=$(find "$dir" -name '*.yaml' | wc -l)
    rss=$(/usr/bin/time -v "$bin" validate "$dir" 2>&1 >/dev/null |
        sed -n 's/.*Maximum resident set size (kbytes): *//p')
    echo "| $n | $files | $((rss / 1024)) MiB |"
done
