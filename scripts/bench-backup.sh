#!/usr/bin/env bash
# Benchmark of `mmctl backup db` chains (a full backup, then page deltas) against restic on the
# same SQLCipher file, in one run on one machine. Numbers go to docs/BENCHMARKS.md. Not a test.
#
# usage: scripts/bench-backup.sh [SIZE_MIB=520] [WORKDIR=/var/tmp/mmkt-bench]
# Steps: seed SIZE_MIB of marketplace rows (bench_seed); mmctl full + restic first snapshot;
# touch 1% of the pages (bench_seed --touch) then mmctl delta + restic second snapshot; the same
# for 0.01%; a delta with nothing changed (the one-minute cycle on an idle marketplace); restore
# of the latest point by both. Every step runs under /usr/bin/time -v (wall, CPU, peak RSS).
# Needs: a release mmctl (MMCTL=path, built if missing), bench_seed (SEED=path; debug is fine),
# age, restic, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-520}"
work="${2:-/var/tmp/mmkt-bench}"
target="${CARGO_TARGET_DIR:-target}"
mmctl="${MMCTL:-$target/release/mmctl}"
seed="${SEED:-$target/debug/examples/bench_seed}"
[ -x "$mmctl" ] || cargo build --release -q -p mmctl --bin mmctl
[ -x "$seed" ] || cargo build -q -p mmctl --example bench_seed

rm -rf "$work"; mkdir -p "$work/data" "$work/backups" "$work/restic-restore"
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/data/mmkt.key"; echo >> "$work/data/mmkt.key"
age-keygen -o "$work/identity.txt" 2>/dev/null
recipient="$(age-keygen -y "$work/identity.txt")"
"$mmctl" backup keygen --out "$work/signing.key" > "$work/verify.pub" 2>/dev/null
export MMKT_DB_PATH="$work/data/mmkt.db" MMKT_DB_KEY_FILE="$work/data/mmkt.key" MMKT_BACKUP_DIR="$work/backups" \
       MMKT_BACKUP_RECIPIENTS="$recipient" MMKT_BACKUP_IDENTITY_FILE="$work/identity.txt" \
       MMKT_BACKUP_SIGNING_KEY_FILE="$work/signing.key" MMKT_BACKUP_VERIFY_KEYS="$work/verify.pub" \
       MMKT_BACKUP_DB_FULL_EVERY=24h RESTIC_REPOSITORY="$work/restic" RESTIC_PASSWORD=bench-only
unset MMKT_S3_BUCKET

echo "seeding ~${size} MiB ..." >&2
"$seed" "$MMKT_DB_PATH" "$MMKT_DB_KEY_FILE" "$size" >&2
db_bytes=$(stat -c %s "$MMKT_DB_PATH")
pages=$((db_bytes / 4096))
restic init -q > /dev/null
sync

rows=()
measure() { # label bytes_cmd command...: appends "label wall cpu rss_kib bytes" to rows
  local label="$1" bytes_of="$2"; shift 2
  local log before after
  log="$(mktemp)"
  before=$($bytes_of)
  /usr/bin/time -v "$@" > /dev/null 2> "$log"
  after=$($bytes_of)
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  rm -f "$log"
  rows+=("$label $wall $cpu $rss $((after - before))")
}
mmctl_bytes() { du -sb "$work/backups" | cut -f1; }
restic_bytes() { du -sb "$work/restic" | cut -f1; }
none() { echo 0; }
mmctl_backup() { measure "$1" mmctl_bytes "$mmctl" backup db --no-offsite; }
restic_backup() { measure "$1" restic_bytes restic backup -q "$MMKT_DB_PATH"; }

mmctl_backup "mmctl-full"
restic_backup "restic-first"
"$seed" "$MMKT_DB_PATH" "$MMKT_DB_KEY_FILE" --touch $((pages / 100)) >&2
mmctl_backup "mmctl-delta-1%"
restic_backup "restic-after-1%"
"$seed" "$MMKT_DB_PATH" "$MMKT_DB_KEY_FILE" --touch $((pages / 10000 + 1)) >&2
mmctl_backup "mmctl-delta-0.01%"
restic_backup "restic-after-0.01%"
mmctl_backup "mmctl-no-change-cycle"
measure "mmctl-restore-latest" none "$mmctl" restore db latest --yes --no-docker
measure "restic-restore-latest" none restic restore -q latest --target "$work/restic-restore"

mib() { awk -v b="$1" 'BEGIN {printf "%.2f", b/1048576}'; }
echo "DB: $(mib "$db_bytes") MiB SQLCipher, $pages pages ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| step | wall (s) | CPU (s) | peak RSS (MiB) | bytes stored (MiB) |"
echo "|------|---------:|--------:|---------------:|-------------------:|"
for row in "${rows[@]}"; do
  read -r label wall cpu rss bytes <<< "$row"
  echo "| $label | $wall | $cpu | $(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}') | $(mib "$bytes") |"
done
