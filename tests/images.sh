#!/usr/bin/env bash
# tests/images.sh: the images of cli/images run for real. Builds the static binaries once
# (a fast profile, not release: see README "Images"), builds the images twice and checks
# the digests are equal, unpacks each with umoci and starts it with runc as the rendered
# pod runs it (uid 10001, read-only root, /tmp a tmpfs, the template's args, its Secrets
# mounted read-only) until its health endpoint answers, then pushes each with skopeo to a
# local docker-registry and inspects the digest back. Needs root (runc) and Debian's
# umoci, runc, skopeo and docker-registry (installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "images: skipped, runc needs root here (rootless runc needs user namespaces set up)"
  exit 0
fi
missing=()
for tool in umoci:umoci runc:runc skopeo:skopeo docker-registry:docker-registry; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" ca-certificates >/dev/null
fi

work=$(mktemp -d /tmp/dappmesh-images.XXXXXX)
containers=()
registry_pid=
cleanup() {
  for id in "${containers[@]}"; do runc delete -f "$id" >/dev/null 2>&1 || true; done
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The static build, in a profile of its own: dev code with optimised dependencies, no
# debug info. A release build (thin LTO) of the four binaries takes far longer on CI's 2 cores.
export CARGO_PROFILE_IMAGETEST_INHERITS=dev CARGO_PROFILE_IMAGETEST_DEBUG=false CARGO_PROFILE_IMAGETEST_STRIP=true
start=$(date +%s)
cargo build --quiet --locked -p dappmesh-images
images=target/debug/images
$images build --profile imagetest --out "$work/a" | tee "$work/a.txt"
echo "images: static build and images in $(($(date +%s) - start)) s"

echo "== images: the same inputs give the same digests"
$images build --binaries target/x86_64-unknown-linux-gnu/imagetest --out "$work/b" >"$work/b.txt"
cut -f1,2 "$work/a.txt" >"$work/a.digests"
cut -f1,2 "$work/b.txt" >"$work/b.digests"
diff "$work/a.digests" "$work/b.digests"
for c in operator registry dashboard dappctl; do
  cmp "$work/a/$c/index.json" "$work/b/$c/index.json"
  cmp "$work/a/$c.cdx.json" "$work/b/$c.cdx.json"
done
diff -r "$work/a" "$work/b"
version=$(sed -n 's/.*"org.opencontainers.image.ref.name":"\([^"]*\)".*/\1/p' "$work/a/registry/index.json")

# run NAME ENV_JSON ARGS_JSON MOUNTS_JSON: unpacks the image and starts it in the
# background under runc, with the host's network (the probes below and the pods'
# peers are on 127.0.0.1) and the pod's securityContext.
run() {
  local name=$1 env=$2 args=$3 mounts=$4 bundle="$work/run-$1"
  umoci unpack --image "$work/a/$name:$version" "$bundle" >/dev/null
  python3 - "$bundle/config.json" "$env" "$args" "$mounts" <<'PY'
import json, sys
path, env, args, mounts = sys.argv[1], *map(json.loads, sys.argv[2:])
c = json.load(open(path))
p = c["process"]
p["terminal"] = False
assert p["user"]["uid"] == 10001 and p["user"]["gid"] == 10001, p["user"]
p["args"] = p["args"][:1] + args
p["env"] += env
p["noNewPrivileges"] = True
for kind in ("bounding", "effective", "permitted", "ambient", "inheritable"):
    p.setdefault("capabilities", {})[kind] = []
c["root"]["readonly"] = True
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "size=65536k"]})
for source, dest, mode in mounts:
    c["mounts"].append({"destination": dest, "type": "bind", "source": source,
                        "options": ["rbind", mode]})
json.dump(c, open(path, "w"))
PY
  local id="dappmesh-images-$name-$$"
  containers+=("$id")
  runc run --bundle "$bundle" "$id" >"$work/$name.log" 2>&1 &
}

# wait_for NAME URL: the endpoint answers 200 within 20 s, else the log is shown.
wait_for() {
  for _ in $(seq 1 40); do
    if curl -fsS -m 2 "$2" >/dev/null 2>&1; then
      echo "images: $1 answers $2"
      return 0
    fi
    sleep 0.5
  done
  echo "images: $1 did not answer $2; its log:" >&2
  cat "$work/$1.log" >&2
  return 1
}

stop() {
  local id="dappmesh-images-$1-$$"
  runc kill "$id" TERM 2>/dev/null || true
  for _ in $(seq 1 20); do
    [ "$(runc state "$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null)" = stopped ] && break
    sleep 0.25
  done
  runc delete -f "$id"
}

echo "== images: each image runs as its rendered pod does"
secrets="$work/secrets"
mkdir -p "$secrets/registry" "$secrets/products" "$secrets/token" "$work/data"
echo "0123456789abcdef0123 registry:* products:* read" >"$secrets/registry/tokens"
echo "0123456789abcdef0123" >"$secrets/token/token"
chmod -R a+rX "$secrets"
chown 10001:10001 "$work/data"

# The registry, with templates/platform/registry.yaml.j2's args (the ports freed here).
port=$(free_port) metrics=$(free_port)
run registry "[\"PORT=$port\"]" \
  "[\"serve\",\"--data-dir\",\"/data\",\"--tokens-file\",\"/run/secrets/registry/tokens\",\"--tokens-file\",\"/run/secrets/registry-products\",\"--read-access\",\"token\",\"--metrics-port\",\"$metrics\"]" \
  "[[\"$work/data\",\"/data\",\"rw\"],[\"$secrets/registry\",\"/run/secrets/registry\",\"ro\"],[\"$secrets/products\",\"/run/secrets/registry-products\",\"ro\"]]"
wait_for registry "http://127.0.0.1:$port/ready"
wait_for registry "http://127.0.0.1:$metrics/metrics"
registry_url="http://127.0.0.1:$port"

# The dashboard, with dashboard.yaml.j2's args, reading the registry above.
dport=$(free_port)
run dashboard "[\"PORT=$dport\"]" \
  "[\"serve\",\"--registry-url\",\"$registry_url\",\"--registry-token-file\",\"/run/secrets/registry/token\",\"--bundle-allow\",\"*.svc,*.svc.cluster.local\"]" \
  "[[\"$secrets/token\",\"/run/secrets/registry\",\"ro\"]]"
wait_for dashboard "http://127.0.0.1:$dport/health"
wait_for dashboard "http://127.0.0.1:$dport/ready"

# The operator, with operator.yaml.j2's args. Its kubeconfig names an API server that
# does not answer: /healthz is the process's own health (README "Images" says why
# /readyz, which needs the API server to list DataProducts, is not checked here).
oport=$(free_port)
mkdir -p "$work/kube"
cat >"$work/kube/config" <<KUBE
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "http://127.0.0.1:1"}}]
users: [{name: test, user: {token: none}}]
contexts: [{name: test, context: {cluster: test, user: test, namespace: dappmesh}}]
current-context: test
KUBE
chmod -R a+rX "$work/kube"
run operator "[\"LISTEN=127.0.0.1:$oport\",\"KUBECONFIG=/run/kube/config\",\"POD_NAME=operator-test\"]" \
  "[\"run\",\"--registry-url\",\"$registry_url\",\"--registry-token-file\",\"/run/secrets/registry/token\"]" \
  "[[\"$secrets/token\",\"/run/secrets/registry\",\"ro\"],[\"$work/kube\",\"/run/kube\",\"ro\"]]"
wait_for operator "http://127.0.0.1:$oport/healthz"

# dappctl has no server: it runs to completion in its image (the Argo CD plugin's way).
run dappctl "[]" "[\"--version\"]" "[]"
for _ in $(seq 1 20); do
  grep -q "dappctl" "$work/dappctl.log" && break
  sleep 0.25
done
grep "dappctl" "$work/dappctl.log"
for c in registry dashboard operator dappctl; do stop "$c"; done
containers=()
echo "images: every container stopped and deleted"

echo "== images: pushed to a local docker-registry and inspected back"
rport=$(free_port)
mkdir -p "$work/distribution"
cat >"$work/distribution.yml" <<CONF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/distribution}}
http: {addr: 127.0.0.1:$rport}
CONF
docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
registry_pid=$!
wait_for distribution "http://127.0.0.1:$rport/v2/"
while IFS=$'\t' read -r name digest _; do
  skopeo copy --quiet --dest-tls-verify=false "oci:$work/a/$name:$version" \
    "docker://127.0.0.1:$rport/dappmesh/$name:$version"
  pushed=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' "docker://127.0.0.1:$rport/dappmesh/$name:$version")
  if [ "$pushed" != "$digest" ]; then
    echo "images: $name was built as $digest, the registry serves $pushed" >&2
    exit 1
  fi
  echo "images: $name pushed and inspected back as $digest"
done <"$work/a.txt"
echo "images: ok in $(($(date +%s) - start)) s"
