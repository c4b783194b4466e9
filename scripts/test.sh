#!/usr/bin/env bash
# Runs every test of the workspace against real services (the second README command).
# Installs and starts what the tests need first; a test that cannot find its service fails.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/bootstrap.sh

# A real S3-compatible server for the offsite-backup tests (stopped by PID by the tests).
if ! command -v s3s-fs >/dev/null 2>&1; then
  echo "[test] installing s3s-fs 0.14.1 (the newest needs a newer rustc)" >&2
  cargo install s3s-fs@0.14.1 --features binary --locked
fi

export MMKT_REQUIRE_SERVICES=1
export RUST_BACKTRACE=1
cargo nextest run --workspace --no-fail-fast --profile ci
cargo test --workspace --doc
