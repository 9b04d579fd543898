#!/usr/bin/env bash
# The registry's OpenAPI document against its behaviour: schemathesis (PyPI, pinned in
# schemathesis-requirements.txt beside this file) generates requests from /openapi.json
# and runs every check on each answer: no 5xx, status codes, content types, headers and
# bodies as documented, valid requests accepted, invalid ones refused, authentication and
# stateful sequences. It runs against a real registry on 127.0.0.1 with a fresh data
# directory and a write token, bounded in examples and time, and fails on any failure.
#
# Usage: registry/tests/schemathesis.sh   (from anywhere; needs python3 with venv)
# Longer: ST_MAX_EXAMPLES=500 ST_MAX_TIME=1800 registry/tests/schemathesis.sh
# Another binary: REGISTRY_BIN=path/to/registry registry/tests/schemathesis.sh
#
# The event streams (/api/v1/watch/*) are left out: they never end, so every request
# would time out; their routing is tested in tests/registry/watch.rs.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
requirements=registry/tests/schemathesis-requirements.txt
venv=target/schemathesis-venv
max_examples=${ST_MAX_EXAMPLES:-60}
max_time=${ST_MAX_TIME:-90}

# Reuse the venv while it holds exactly the pinned set.
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi

# REGISTRY_BIN runs an already built registry instead of building target/debug/registry.
bin=${REGISTRY_BIN:-}
if [[ -z $bin ]]; then
  cargo build --quiet -p registry --locked
  bin=target/debug/registry
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

token="st-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
mkfifo "$tmp/ready"
"$bin" serve --host 127.0.0.1 --port 0 --data-dir "$tmp/data" \
  --tokens "$token registry:* products:* read" >"$tmp/ready" 2>"$tmp/registry.log" &
pid=$!
read -r -t 20 line <"$tmp/ready" || true
url=${line#registry listening on }
if [[ $url != http://127.0.0.1:* ]]; then
  echo "schemathesis.sh: the registry did not start: ${line:-no output}" >&2
  cat "$tmp/registry.log" >&2
  exit 1
fi
# Keep the pipe drained so the registry never blocks on stdout.
cat "$tmp/ready" >/dev/null &

# A blocking query (`index` given) waits up to 60 s by default and 5 min at most; each
# one with a valid `wait` (or none) waits 1 s instead, so that none outlasts the request
# timeout. An invalid `wait` is left alone: it is refused at once.
#
# The one rule JSON Schema cannot state: names are unique within each list of a product
# (ports, widgets), and the registry refuses a duplicate with 422. Exactly that refusal of
# exactly such a body is dropped from the failures (the output counts what was dropped);
# any other refusal of a schema-valid body still fails the run.
cat >"$tmp/hooks.py" <<'PY'
import os
import re

import requests
import schemathesis

DOC = requests.get(os.environ["ST_REGISTRY_URL"] + "/openapi.json", timeout=10).json()
WAIT = next(p["schema"]["pattern"] for p in DOC["paths"]["/api/v1/registry"]["get"]["parameters"]
            if p["name"] == "wait")


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method != "GET" or case.path not in ("/api/v1/registry", "/api/v1/products"):
        return
    query = case.query or {}
    index, wait = str(query.get("index", "")), query.get("wait")
    if re.fullmatch("[0-9]{1,20}", index) and (wait is None or re.search(WAIT, str(wait))):
        case.query = {**query, "wait": "1s"}


LISTS = {"inputPorts": "duplicate port name", "outputPorts": "duplicate port name",
         "widgets": "duplicate widget name"}


def _duplicated(body):
    for key, message in LISTS.items():
        items = body.get(key) if isinstance(body, dict) else None
        if isinstance(items, list):
            names = [i.get("name") for i in items if isinstance(i, dict)]
            if len(names) != len(set(names)):
                yield message


@schemathesis.hook("filter_failure").apply_to(method="PUT", path="/api/v1/products/{id}")
def duplicate_names(context, failure, case, response):
    if response is None or response.status_code != 422:
        return True
    try:
        message = response.json().get("message", "")
    except ValueError:
        return True
    return not any(message.endswith(m) for m in _duplicated(case.body))
PY

start=$(date +%s)
status=0
ST_REGISTRY_URL=$url SCHEMATHESIS_HOOKS="$tmp/hooks.py" "$venv/bin/schemathesis" run "$url/openapi.json" \
  --checks all \
  --header "Authorization: Bearer $token" \
  --exclude-path-regex '^/api/v1/watch/' \
  --max-examples "$max_examples" \
  --max-time "$max_time" \
  --workers 1 \
  --request-timeout 10 \
  --generation-database none \
  --no-color || status=$?
echo "schemathesis.sh: finished in $(($(date +%s) - start))s with status $status"
if grep -q "panicked" "$tmp/registry.log"; then
  echo "schemathesis.sh: the registry panicked:" >&2
  grep -A5 "panicked" "$tmp/registry.log" >&2
  status=1
fi
exit "$status"
