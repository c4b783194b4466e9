#!/usr/bin/env bash
# Server benchmark (docs/BENCHMARKS.md): seeds 10k listings into a fresh SQLCipher database, starts the
# release mmkt-server on loopback, and loads GET /health and GET /api/listings with Debian's wrk.
# Prints req/s and p50/p99 for both (saturating load), the same for page 4 (beyond the front-page cache,
# so every request reads SQLCipher), the listings/health throughput ratio, and the p99 of /api/listings
# paced at about 1000 req/s. Not a test: numbers depend on the machine.
#
# Knobs (env): LISTINGS=10000 DURATION=15s CONNECTIONS=32 THREADS=2 PORT=18480 PACED_RATE=1000
set -euo pipefail
cd "$(dirname "$0")/.."

LISTINGS=${LISTINGS:-10000}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18480}
PACED_RATE=${PACED_RATE:-1000}

command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install -y wrk" >&2; exit 2; }

cargo build --release -p mmkt-server >&2
BIN=${CARGO_TARGET_DIR:-target}/release/mmkt-server

WORK=$(mktemp -d -t mmkt-bench.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

export MMKT_ENV=development
export MMKT_DB_PATH="$WORK/mmkt.db"
export MMKT_DB_KEY_FILE="$WORK/mmkt.key"
export MMKT_BIND="127.0.0.1:$PORT"
export RUST_LOG=warn   # one log line per request would measure stderr, not the server
unset MMKT_CONFIG_FILE MMKT_WALLET_RPC_BUYER_URL MMKT_WALLET_RPC_VENDOR_URL MMKT_WALLET_RPC_ARBITER_URL MMKT_MONEROD_URL

"$BIN" seed-bench --listings "$LISTINGS" >&2
"$BIN" serve 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null || { echo "server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

# wrk prints latencies like 512.00us / 1.23ms / 2.00s; convert to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.2f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.2f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.2f", v * 1000 }
    else { printf "%s", v } }'
}
run() { # id label url wrk-args...
  local id=$1 label=$2 url=$3; shift 3
  wrk --latency "$@" "$url" >"$WORK/$id.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/$id.txt")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/$id.txt")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/$id.txt")")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/$id.txt")
  printf '%-28s %10s %10s %10s %s\n' "$label" "$rps" "$p50" "$p99" "${non2xx:+(non-2xx: $non2xx)}"
  echo "$rps" >"$WORK/$id.rps"
}

# Paced load: each connection waits (connections / rate) s between requests, so the total offered rate is
# about PACED_RATE req/s (wrk has no fixed-rate mode; the achieved rate is printed).
PACED_CONNECTIONS=10
cat >"$WORK/paced.lua" <<LUA
function delay() return $(( PACED_CONNECTIONS * 1000 / PACED_RATE )) end
LUA

echo "mmkt-server benchmark: $LISTINGS listings, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores, $(date -u +%FT%TZ)"
printf '%-28s %10s %10s %10s\n' "endpoint" "req/s" "p50 ms" "p99 ms"
run health "GET /health" "http://127.0.0.1:$PORT/health" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION"
run listings "GET /api/listings" "http://127.0.0.1:$PORT/api/listings" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION"
run uncached "GET /api/listings?page=4 (DB)" "http://127.0.0.1:$PORT/api/listings?page=4" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION"
run paced "GET /api/listings ~${PACED_RATE}/s" "http://127.0.0.1:$PORT/api/listings" -t"$THREADS" -c"$PACED_CONNECTIONS" -d"$DURATION" -s "$WORK/paced.lua"
awk -v l="$(cat "$WORK/listings.rps")" -v h="$(cat "$WORK/health.rps")" \
  'BEGIN { printf "listings/health throughput: %.0f%% (target >= 50%%)\n", 100 * l / h }'
