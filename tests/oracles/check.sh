#!/usr/bin/env bash
# Checks rendered Kubernetes manifests with two independent oracles:
#   1. kubernetes-validate --strict: every object of a built-in kind under OUT_DIR against the
#      OpenAPI schema of each K8S_VERSION (unknown fields, wrong types, removed API versions).
#      Custom resources (any API group Kubernetes does not serve: dappmesh.io, argoproj.io...)
#      are skipped and counted; dappctl validates those itself. See kube_validate.py.
#   2. checkov --framework kubernetes: security and reliability checks, minus the ones listed
#      with a reason in checkov-skips.txt.
#
#   tests/oracles/check.sh OUT_DIR [K8S_VERSION...]     # e.g. check.sh out 1.30 1.37
#
# K8S_VERSION is MAJOR.MINOR (a patch or leading v is accepted), one that the pinned
# kubernetes-validate knows (1.25 to 1.37 for 1.37.0); the default is its newest.
# Installs the oracles on first use (tests/oracles/setup.sh, about a minute). Quiet on success:
# one summary line per tool. Exit status: 0 all pass, 1 a check failed, 2 usage or setup error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { printf 'oracles/check.sh: %s\n' "$*" >&2; exit 2; }

if [ $# -lt 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
    sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
fi
out=$1
shift
[ -d "$out" ] || die "$out is not a directory"
out=$(cd "$out" && pwd)

venv=$("$here/setup.sh") || die "setup.sh failed"
python="$venv/bin/python"

# The skip list: `CKV_K8S_NN # reason` lines; blank and comment-only lines are ignored.
skips=()
lineno=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    trimmed=${line#"${line%%[![:space:]]*}"}
    case $trimmed in '' | '#'*) continue ;; esac
    id=${trimmed%%#*}
    id=${id%"${id##*[![:space:]]}"}
    reason=''
    case $trimmed in *'#'*) reason=${trimmed#*#} ;; esac
    [[ $id =~ ^CKV2?_K8S_[0-9]+$ ]] ||
        die "checkov-skips.txt:$lineno: '$id' is not a checkov kubernetes check id (CKV_K8S_NN or CKV2_K8S_NN)"
    [[ $reason =~ [^[:space:]] ]] || die "checkov-skips.txt:$lineno: $id has no '# reason'"
    skips+=("$id")
done <"$here/checkov-skips.txt"
skip_csv=$(IFS=,; echo "${skips[*]:-}")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0

# 1. Schemas. kube_validate.py prints its own summary and failures.
"$python" "$here/kube_validate.py" "$out" "$@" || {
    rc=$?
    [ "$rc" -eq 1 ] || exit "$rc"
    status=1
}

# 2. checkov. Offline: no download from its platform, no update check; hidden directories
# are scanned too, as kube_validate.py does. checkov ignores a file it cannot parse, but
# kube_validate.py has failed on it already.
args=(-d . --framework kubernetes --skip-download -o json)
[ -z "$skip_csv" ] || args+=(--skip-check "$skip_csv")
set +e
(cd "$out" && CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_IGNORE_HIDDEN_DIRECTORIES=false \
    "$venv/bin/checkov" "${args[@]}") >"$tmp/checkov.json" 2>"$tmp/checkov.err"
checkov_rc=$?
set -e
if "$python" "$here/checkov_report.py" "$tmp/checkov.json" "$skip_csv"; then
    if [ "$checkov_rc" -ne 0 ]; then
        # The report is clean but checkov failed: show why rather than pass.
        tail -n 20 "$tmp/checkov.err" | sed 's/^/  /'
        echo "checkov exited with $checkov_rc"
        status=1
    fi
else
    [ ! -s "$tmp/checkov.err" ] || tail -n 20 "$tmp/checkov.err" | sed 's/^/  checkov: /'
    status=1
fi

exit "$status"
