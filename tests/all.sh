#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit and integration tests, and the
# manifest oracles on the rendered examples.
# It installs what the tests need itself, so it works on a bare machine with a Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

# The SARIF test validates our output against the schema in ../shared/data/schemas.
if [ ! -f ../shared/data/schemas/sarif-schema-2.1.0.json ]; then
  echo "tests/all.sh: ../shared/data/schemas/sarif-schema-2.1.0.json is missing (clone with ../shared beside)" >&2
  exit 2
fi

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== rust-version (the promise covers every dependency; clippy holds our use of std to it)"
python3 tests/build/msrv.py
echo "== cargo doc (a broken intra-doc link or bad doc markup is an error)"
# Private items too, so links inside modules are checked; a public item linking a private
# one is fine here, the docs are read with --document-private-items.
RUSTDOCFLAGS="-D warnings -A rustdoc::private_intra_doc_links" \
  cargo doc --workspace --no-deps --document-private-items --locked
echo "== cargo test"
cargo test --workspace --locked

echo "== dashboard: bundle freshness and browser tests (headless Chromium)"
bash dashboard/tests/run.sh

# The rendered examples against two independent oracles (tests/oracles/README.md), for every
# Kubernetes release the example mesh targets. The oracles live in a venv this installs.
if ! python3 -m venv --help >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-venv >/dev/null
  fi
fi
echo "== oracles: kubernetes-validate and checkov on the rendered examples"
rendered=target/rendered-examples
cargo run --quiet --locked -p dappctl -- render examples --out "$rendered"
mapfile -t versions < <(sed -n 's/^ *kubernetesVersion: *"\{0,1\}\([0-9.]*\)"\{0,1\}.*/\1/p' examples/mesh.yaml | sort -u)
bash tests/oracles/check.sh "$rendered" "${versions[@]}"

echo "== registry: schemathesis against a live registry (every check, bounded examples and time)"
bash registry/tests/schemathesis.sh

# Opt-in for now: its static build of four binaries (a target and flags of its own, so
# nothing is shared with the test build above) takes 12-18 min cold on CI's 2 cores, which
# would pass CI's 45-minute budget. Run it with DAPPMESH_IMAGES=1 (a minute when warm).
if [ "${DAPPMESH_IMAGES:-0}" = 1 ]; then
  echo "== images: built twice (same digests), run under runc, pushed with skopeo (tests/images.sh)"
  bash tests/images.sh
else
  echo "== images: skipped (DAPPMESH_IMAGES=1 runs tests/images.sh: builds, runs under runc, pushes)"
fi

# The fuzz targets (tests/fuzz, README "Fuzzing") need a nightly toolchain for the
# sanitizer instrumentation; each runs for a bounded time from the committed seed corpus,
# adding what it finds to a corpus under target/ (the committed one is only read).
# Without AddressSanitizer (`-s none`): the code under test is safe Rust, where a panic or a
# runaway is the finding, and the build stays within CI's time; longer runs use the default.
if cargo +nightly --version >/dev/null 2>&1; then
  if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet
  fi
  for target in load_validate render_templates registry_request; do
    echo "== fuzz: $target for ${FUZZ_SECONDS:-30} s"
    mkdir -p "target/fuzz-corpus/$target"
    log="target/fuzz-corpus/$target.log"
    if ! cargo +nightly fuzz run -s none "$target" --fuzz-dir tests/fuzz \
      "target/fuzz-corpus/$target" "tests/fuzz/corpus/$target" \
      -- -max_total_time="${FUZZ_SECONDS:-30}" -timeout=60 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
      tail -n 60 "$log"
      echo "fuzz: $target failed; the input is under tests/fuzz/artifacts/$target/" >&2
      exit 1
    fi
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" || true
  done
else
  echo "== fuzz: skipped, no nightly toolchain (rustup toolchain install nightly runs them)"
fi
