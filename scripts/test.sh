#!/usr/bin/env bash
# Runs the CI gates and every test of the workspace against real services (the second README
# command). Installs and starts what the tests need first; a test that cannot find its service
# fails. Every step runs even when an earlier one failed, so one run shows every problem; the
# script exits non-zero if any failed, and prints how long each step took.
#
# Steps, cheapest first (tests/src/tidy/gates.rs checks that the gates stay here):
#   fmt      cargo fmt --all --check
#   deny     cargo deny check licenses bans sources   (deny.toml; offline, no advisory database)
#   clippy   cargo build --workspace --all-targets with clippy-driver compiling the workspace's
#            crates: every clippy lint as an error (-D warnings), and the build nextest runs
#   nextest  cargo nextest run --workspace --no-fail-fast --profile ci   (tidy, actionlint, ...)
#   doctest  cargo test --workspace --doc
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

failed=()
timings=()
# step NAME COMMAND...: runs COMMAND, records its wall time and whether it failed.
step() {
  local name=$1 start=$SECONDS status=0
  shift
  echo "[test] $name: $*" >&2
  "$@" || status=$?
  timings+=("$name $((SECONDS - start))s$([ "$status" -eq 0 ] || echo " FAILED (exit $status)")")
  [ "$status" -eq 0 ] || failed+=("$name")
}

step fmt cargo fmt --all --check
step deny cargo deny check --hide-inclusion-graph licenses bans sources
# clippy lints while the build compiles: clippy-driver (rustc with clippy's lints, what
# `cargo clippy` runs) compiles the workspace's crates, so every clippy lint is an error there,
# and the dependencies are compiled once; a separate `cargo clippy` compiles every dependency
# a second time in check mode (12 minutes of a 2-core CI run). The variables stay exported so
# nextest and the doc tests find the same build fresh instead of compiling it again.
clippy_driver="$(command -v clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver" CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
# Every target once, with the feature set the tests are built with: the test binaries, and the
# workspace binaries the tests run (mmkt-server, mmkt-load, fault-server). Tests told so by
# MMKT_PREBUILT_BINARIES use these instead of asking cargo for a `-p` build, whose own feature
# set would recompile the dependencies in the middle of the test run. --keep-going: every
# crate's lints in one run.
step clippy cargo build --workspace --all-targets --keep-going
export MMKT_PREBUILT_BINARIES=1
step nextest cargo nextest run --workspace --no-fail-fast --profile ci
step doctest cargo test --workspace --doc

printf '[test] %s\n' "${timings[@]}" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "[test] failed: ${failed[*]}" >&2
  exit 1
fi
