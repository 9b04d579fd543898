#!/usr/bin/env bash
# Benchmarks `registry serve` against etcd doing the equivalent work, on loopback, with
# 1,000 registrations:
#   - list:       GET /api/v1/registry            vs etcd range over the /registry/ prefix
#                 (also gzipped, as Go's and browsers' HTTP clients request it)
#   - heartbeat:  durable POST /api/v1/registry/{id} (bearer token, acknowledged after the
#                 SQLite commit) vs etcd put with a lease (acknowledged after its WAL fsync)
# both through HTTP/JSON (etcd's v3 JSON gateway), measured with `wrk --latency`. Also
# reports the registry's idle RSS after seeding.
#
#   tests/bench/registry.sh > bench.md                 # results on stdout, progress on stderr
#   DURATION=30s CONNECTIONS=128 tests/bench/registry.sh
#
# Needs wrk, etcd (Debian's etcd-server), curl and python3; installs wrk and etcd-server
# with apt-get when missing and running as root. Targets (issue 4): list >= 20,000 req/s,
# heartbeats >= 5,000 req/s, p99 < 10 ms, idle RSS <= 15 MiB.
set -euo pipefail

N=${N:-1000}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
WORKERS=${WORKERS:-2}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
lua=$root/tests/bench/registry.lua

# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"

need wrk wrk
need /usr/bin/etcd etcd-server
need curl curl
need python3 python3

work=$(mktemp -d "${TMPDIR:-/tmp}/registry-bench.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

log "building the release binary..."
cargo build --release --quiet -p registry --bin registry >&2
target=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
bin="$target/release/registry"

token="bench-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
"$bin" serve --host 127.0.0.1 --port 0 --data-dir "$work/data" --workers "$WORKERS" \
    --tokens "$token registry:* read" --log-level warn >"$work/registry.out" 2>"$work/registry.log" &
registry_pid=$!
pids+=("$registry_pid")
for _ in $(seq 100); do
    grep -q listening "$work/registry.out" 2>/dev/null && break
    sleep 0.1
done
url=$(sed -n 's/^registry listening on //p' "$work/registry.out")
[ -n "$url" ] || { log "error: the registry did not start:"; cat "$work/registry.log" >&2; exit 1; }

body='{"webComponent":{"jsUrl":"http://w.ns/bundle.js","cssUrl":"http://w.ns/bundle.css","componentId":"<w-tag param_one=\"x\"></w-tag>"},"label":"Friendly","tags":{"k":"v"}}'

# Seeds N registrations over one keep-alive connection: seed METHOD URL PATH_FORMAT BODY N [HEADER...]
seed() {
    python3 - "$@" <<'PY'
import http.client, sys, urllib.parse
method, url, path_format, body, n, *headers = sys.argv[1:]
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
hdrs = {"Content-Type": "application/json"}
for h in headers:
    k, v = h.split(": ", 1)
    hdrs[k] = v
for i in range(int(n)):
    conn.request(method, path_format.format(i=i), body=body, headers=hdrs)
    r = conn.getresponse()
    r.read()
    if not 200 <= r.status < 300:
        sys.exit(f"seeding {path_format.format(i=i)}: HTTP {r.status}")
PY
}

log "seeding $N registrations..."
seed POST "$url" "/api/v1/registry/w{i}" "$body" "$N" "Authorization: Bearer $token"
count=$(curl -sf "$url/api/v1/registry" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$count" = "$N" ] || { log "error: the registry lists $count registrations, not $N"; exit 1; }
sleep 3
rss_kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$registry_pid/status")

# Runs wrk; prints "req/s p99_ms non2xx".
run_wrk() {
    local out
    out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency "$@" 2>&1)
    echo "$out" >>"$work/wrk.log"
    python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
p99 = float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
errors = re.search(r"Socket errors:.*", out)
print(f"{rps:.0f} {p99:.2f} {int(bad.group(1)) if bad else 0} {'socket-errors' if errors else ''}")
PY
}

log "registry: list..."
read -r reg_list_rps reg_list_p99 reg_list_bad _ < <(run_wrk "$url/api/v1/registry")
log "registry: list, gzipped..."
read -r reg_gz_rps reg_gz_p99 reg_gz_bad _ < <(run_wrk -H "Accept-Encoding: gzip" "$url/api/v1/registry")
list_bytes=$(curl -sf "$url/api/v1/registry" | wc -c)
gz_bytes=$(curl -sf -H "Accept-Encoding: gzip" "$url/api/v1/registry" | wc -c)
log "registry: heartbeats..."
read -r reg_hb_rps reg_hb_p99 reg_hb_bad _ < <(MODE=heartbeat N=$N TOKEN=$token run_wrk -s "$lua" "$url")
batches=$(curl -sf "$url/metrics" | awk '/^registry_write_batches_total/ {print $2}')
writes=$(curl -sf "$url/metrics" | awk '/^registry_writes_total/ {print $2}')
kill "$registry_pid"
wait "$registry_pid" 2>/dev/null || true

log "etcd: starting on loopback..."
read -r client_port peer_port < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
etcd_url="http://127.0.0.1:$client_port"
/usr/bin/etcd --name bench --data-dir "$work/etcd" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "bench=http://127.0.0.1:$peer_port" \
    --log-level error >"$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -sf "$etcd_url/health" >/dev/null 2>&1 && break
    sleep 0.1
done
lease=$(curl -sf -X POST "$etcd_url/v3/lease/grant" -d '{"TTL": 600}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["ID"])')
log "etcd: seeding $N keys with lease $lease..."
python3 - "$etcd_url" "$N" "$lease" "$body" <<'PY'
import base64, http.client, json, sys, urllib.parse
url, n, lease, body = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
u = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
b64 = lambda s: base64.b64encode(s.encode()).decode()
for i in range(n):
    put = {"key": b64(f"/registry/w{i}"), "value": b64(body), "lease": lease}
    conn.request("POST", "/v3/kv/put", body=json.dumps(put), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"seeding etcd: HTTP {r.status}")
PY
keys=$(curl -sf -X POST "$etcd_url/v3/kv/range" \
    -d "{\"key\":\"$(printf /registry/ | base64)\",\"range_end\":\"$(printf /registry0 | base64)\",\"count_only\":true}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin).get("count", 0))')
[ "$keys" = "$N" ] || { log "error: etcd holds $keys keys, not $N"; cat "$work/etcd.log" >&2; exit 1; }

log "etcd: range over the prefix..."
read -r etcd_list_rps etcd_list_p99 etcd_list_bad _ < <(MODE=etcd-range run_wrk -s "$lua" "$etcd_url")
log "etcd: put with lease..."
read -r etcd_put_rps etcd_put_p99 etcd_put_bad _ < <(MODE=etcd-put N=$N LEASE=$lease run_wrk -s "$lua" "$etcd_url")

echo "## registry vs etcd $(/usr/bin/etcd --version | sed -n 's/etcd Version: //p'), $N registrations ($(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, registry --workers $WORKERS)"
echo
echo "| workload | registry req/s | registry p99 ms | etcd req/s | etcd p99 ms | registry / etcd |"
echo "|---|--:|--:|--:|--:|--:|"
ratio() { python3 -c "print(f'{$1 / max($2, 1):.1f}x')"; }
echo "| list (GET /api/v1/registry vs range over prefix) | $reg_list_rps | $reg_list_p99 | $etcd_list_rps | $etcd_list_p99 | $(ratio "$reg_list_rps" "$etcd_list_rps") |"
echo "| list, Accept-Encoding: gzip (etcd has no equivalent) | $reg_gz_rps | $reg_gz_p99 | | | |"
echo "| durable heartbeat (POST vs put with lease) | $reg_hb_rps | $reg_hb_p99 | $etcd_put_rps | $etcd_put_p99 | $(ratio "$reg_hb_rps" "$etcd_put_rps") |"
echo
echo "- list body: $list_bytes bytes plain, $gz_bytes gzipped"
echo "- registry idle RSS after seeding: $(python3 -c "print(f'{$rss_kib / 1024:.1f}')") MiB"
echo "- registry group commit: $writes writes in $batches transactions"
echo "- non-2xx answers: registry list $reg_list_bad, gzipped list $reg_gz_bad, heartbeat $reg_hb_bad; etcd range $etcd_list_bad, put $etcd_put_bad"
