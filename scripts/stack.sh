#!/usr/bin/env bash
# Runs the mmkt stack on this machine (the first README command): server, monerod on a local
# regtest chain, three wallet-rpc, Prometheus, Alertmanager and nginx, all built offline.
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
"$mmctl" up --env "$env_name"
"$mmctl" health
