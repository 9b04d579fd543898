#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit and integration tests.
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
echo "== cargo test"
cargo test --workspace --locked
