#!/usr/bin/env bash
# Runs the mmkt stack on this machine (the first README command): server, monerod on a local
# regtest chain, three wallet-rpc, Prometheus, Alertmanager and nginx, all built offline; in
# development also a regtest faucet wallet and a miner (a block every MMKT_DEV_MINE_INTERVAL_SECS).
#
#   bash scripts/stack.sh                      # development env (regtest), debug build
#   MMKT_ENV=staging PROFILE=release bash scripts/stack.sh
#
# Stop it with `target/debug/mmctl down` (volumes are kept; add --volumes to drop them).
set -euo pipefail
cd "$(dirname "$0")/.."

env_name="${MMKT_ENV:-development}"
profile="${PROFILE:-debug}"

bash scripts/bootstrap.sh

if [ "$profile" = release ]; then
  cargo build --release -p mmkt-server -p mmctl
else
  cargo build -p mmkt-server -p mmctl
fi
mmctl="target/$profile/mmctl"

"$mmctl" image bootstrap-base          # debian:bookworm-slim via debootstrap, once
"$mmctl" image build --quiet --binary "mmkt-server=target/$profile/mmkt-server"
# Development also runs the regtest faucet and miner (compose profile "dev"), so payments
# confirm and unlock by themselves; other environments refuse that profile.
profiles=()
if [ "$env_name" = development ]; then
  profiles=(--profile dev)
fi
"$mmctl" up --env "$env_name" "${profiles[@]}"
"$mmctl" health --env "$env_name" "${profiles[@]}"
