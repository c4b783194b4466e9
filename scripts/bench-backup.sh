#!/usr/bin/env bash
# Benchmark of `mmctl backup db` / `mmctl restore db` against the shell pipeline they replace
# (copy the encrypted DB, gzip, age -r). Numbers go to docs/BENCHMARKS.md. Not a test.
#
# usage: scripts/bench-backup.sh [SIZE_MIB=1024] [WORKDIR=/var/tmp/mmkt-bench]
# Needs: a release mmctl (MMCTL=path, default target/release/mmctl, built if missing), the bench_seed
# example (SEED=path; its speed does not matter: debug is fine), age, gzip, /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1024}"
work="${2:-/var/tmp/mmkt-bench}"
target="${CARGO_TARGET_DIR:-target}/release"
mmctl="${MMCTL:-$target/mmctl}"
seed="${SEED:-${CARGO_TARGET_DIR:-target}/debug/examples/bench_seed}"
[ -x "$mmctl" ] || cargo build --release -q -p mmctl
[ -x "$seed" ] || cargo build -q -p mmctl --example bench_seed

rm -rf "$work"; mkdir -p "$work/data" "$work/backups" "$work/shell"
umask 077
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/data/mmkt.key"; echo >> "$work/data/mmkt.key"
age-keygen -o "$work/identity.txt" 2>/dev/null
recipient="$(age-keygen -y "$work/identity.txt")"
"$mmctl" backup keygen --out "$work/signing.key" > "$work/verify.pub" 2>/dev/null
export MMKT_DB_PATH="$work/data/mmkt.db" MMKT_DB_KEY_FILE="$work/data/mmkt.key" MMKT_BACKUP_DIR="$work/backups" \
       MMKT_BACKUP_RECIPIENTS="$recipient" MMKT_BACKUP_IDENTITY_FILE="$work/identity.txt" \
       MMKT_BACKUP_SIGNING_KEY_FILE="$work/signing.key" MMKT_BACKUP_VERIFY_KEYS="$work/verify.pub"
unset MMKT_S3_BUCKET

echo "seeding ~${size} MiB ..." >&2
"$seed" "$MMKT_DB_PATH" "$MMKT_DB_KEY_FILE" "$size" >&2
db_bytes=$(stat -c %s "$MMKT_DB_PATH")
sync

measure() { # label, command...; prints "label seconds maxrss_kib"
  local label="$1"; shift
  local log; log="$(mktemp)"
  /usr/bin/time -v "$@" > /dev/null 2> "$log"
  local secs rss
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  rm -f "$log"
  echo "$label $secs $rss"
}

r_backup=$(measure mmctl_backup "$mmctl" backup db --no-offsite)
backup_file=$(ls "$work"/backups/*.db.gz.age)
r_shell=$(measure shell_pipeline bash -c "cp '$MMKT_DB_PATH' '$work/shell/mmkt.db' && gzip -6 -c '$work/shell/mmkt.db' | age -r '$recipient' > '$work/shell/mmkt.db.gz.age'")
r_verify=$(measure mmctl_verify "$mmctl" backup verify)
cp "$MMKT_DB_PATH" "$work/data/live-copy.db"
r_restore=$(measure mmctl_restore "$mmctl" restore db latest --yes --no-docker)

b_size=$(stat -c %s "$backup_file"); s_size=$(stat -c %s "$work/shell/mmkt.db.gz.age")
read -r _ b_secs b_rss <<< "$r_backup"; read -r _ s_secs s_rss <<< "$r_shell"
read -r _ v_secs v_rss <<< "$r_verify"; read -r _ r_secs r_rss <<< "$r_restore"
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b/1048576}'; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN {printf "%.0f", (s>0? b/1048576/s : 0)}'; }
cat <<TABLE
DB: $(mib "$db_bytes") MiB SQLCipher ($(nproc) cores)

| step | time (s) | throughput (MiB/s of DB) | output (MiB) | peak RSS (MiB) |
|------|---------:|-------------------------:|-------------:|---------------:|
| mmctl backup db | $b_secs | $(rate "$db_bytes" "$b_secs") | $(mib "$b_size") | $(awk -v k="$b_rss" 'BEGIN{printf "%.1f", k/1024}') |
| cp + gzip -6 + age -r (old pipeline) | $s_secs | $(rate "$db_bytes" "$s_secs") | $(mib "$s_size") | $(awk -v k="$s_rss" 'BEGIN{printf "%.1f", k/1024}') (largest process) |
| mmctl backup verify | $v_secs | $(rate "$db_bytes" "$v_secs") | - | $(awk -v k="$v_rss" 'BEGIN{printf "%.1f", k/1024}') |
| mmctl restore db (--no-docker) | $r_secs | $(rate "$db_bytes" "$r_secs") | - | $(awk -v k="$r_rss" 'BEGIN{printf "%.1f", k/1024}') |

speed-up vs pipeline: $(awk -v a="$s_secs" -v b="$b_secs" 'BEGIN{printf "%.1fx", a/b}'), size ratio: $(awk -v a="$b_size" -v b="$s_size" 'BEGIN{printf "%.3f", a/b}')
TABLE
