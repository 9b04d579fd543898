#!/usr/bin/env bash
# Installs the manifest oracles (kubernetes-validate, checkov; pinned in requirements.txt)
# into a Python venv at target/oracles-venv, and prints the venv's path on stdout.
#
#   tests/oracles/setup.sh                  # from anywhere in the repository
#   venv=$(tests/oracles/setup.sh)          # what check.sh does
#   PYTHON=python3.12 tests/oracles/setup.sh
#
# Idempotent: the venv keeps a hash of requirements.txt and of the Python it was made with;
# when both match, nothing is done. Otherwise the venv is made anew (so no stale package
# lingers). Progress goes to stderr only when there is work to do.
# Needs Python >= 3.9 with the venv module (Debian: `apt-get install python3-venv`; installed
# with apt-get when it is missing and this runs as root) and access to PyPI.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/tests/oracles"
venv="$root/target/oracles-venv"
stamp="$venv/.oracles-requirements.sha256"
python=${PYTHON:-python3}

log() { printf 'oracles/setup.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

command -v "$python" >/dev/null 2>&1 ||
    die "$python not found; install Python 3 (Debian: apt-get install python3 python3-venv)"

pyversion=$("$python" -c 'import sys; assert sys.version_info >= (3, 9), "needs Python >= 3.9"; print(sys.version)') ||
    die "$python does not run, or is older than 3.9"
want=$(printf '%s\n%s\n' "$(cat "$here/requirements.txt")" "$pyversion" | sha256sum | cut -d' ' -f1)

up_to_date() {
    [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]
}

if up_to_date; then
    echo "$venv"
    exit 0
fi

mkdir -p "$root/target"
# Two runs at once (say, two test scripts) must not build the same venv together.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$root/target/oracles-venv.lock"
    flock 9
    if up_to_date; then
        echo "$venv"
        exit 0
    fi
fi

# `python3 -m venv` exists on Debian without python3-venv but fails for want of ensurepip.
venv_works() {
    local probe
    probe=$(mktemp -d)
    if "$python" -m venv "$probe/v" >/dev/null 2>&1; then rm -rf "$probe"; return 0; fi
    rm -rf "$probe"
    return 1
}
if ! venv_works; then
    pkg=python3-venv
    minor=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "'$python -m venv' does not work; installing $pkg with apt-get..."
        { apt-get install -y "$pkg" >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && apt-get install -y "$pkg" >/dev/null 2>&1; } ||
            apt-get install -y "python$minor-venv" >/dev/null 2>&1; } ||
            die "cannot install $pkg (or python$minor-venv) with apt-get"
        venv_works || die "'$python -m venv' still fails after installing $pkg"
    else
        die "'$python -m venv' does not work; install it (Debian/Ubuntu: sudo apt-get install $pkg, or python$minor-venv)"
    fi
fi

start=$SECONDS
log "creating $venv ..."
rm -rf "$venv"
"$python" -m venv "$venv"
log "installing $(grep -Ev '^[[:space:]]*(#|$)' "$here/requirements.txt" | tr '\n' ' ')(about a minute)..."
if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$here/requirements.txt" >&2; then
    die "pip install failed; rerun to retry (the venv is marked incomplete)"
fi
# Fail here, not later in check.sh, if an entry point did not install.
for tool in kubernetes-validate checkov; do
    [ -x "$venv/bin/$tool" ] || die "$venv/bin/$tool is missing after pip install"
done
echo "$want" >"$stamp"
log "ready in $((SECONDS - start))s: $venv"
echo "$venv"
