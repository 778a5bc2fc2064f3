#!/usr/bin/env bash
# Load and soak (issue 7, part 4): the release binary's `serve` against
# ../shared/bench/fake_tautulli.py with fast refreshes.
#
#   benches/soak.sh [USERS] [SESSIONS_PER_USER] [SOAK_SECONDS] [LOAD_SECONDS]
#                   (defaults: 200 users x 100 sessions, 240 s soak, 60 s load)
#
# 1. Load: wrk on /metrics and /api/v1/users (and /users when this build has it) at the
#    same time for LOAD_SECONDS, while the exporter refreshes every second. Fails on
#    any non-2xx answer or socket error.
# 2. Soak: SOAK_SECONDS more of refreshes every second (full reload every 30 s, users
#    table every 10 s), sampling VmRSS every 5 s. Prints first/last/max and whether
#    memory is flat: the median of the last quarter of samples within 10 % + 2 MiB of
#    the first quarter's. Fails if it grows, or if a refresh failed.
#
# Needs Debian's `wrk`, python3, curl. Traffic stays on 127.0.0.1; everything it starts
# is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-200}; per_user=${2:-100}; soak=${3:-240}; load=${4:-60}
shared=${SHARED:-../shared}
key=soakkey0123456789abcdef012345678
bin=${BIN:-target/release/plex-sharing-exporter}   # BIN=... to try the script on another build
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
[ -n "${BIN:-}" ] || cargo build --release --quiet
mkdir -p target/bench-data
data=target/bench-data/u${users}-s${per_user}.json
[ -s "$data" ] || python3 "$shared/bench/gen_bench_data.py" --users "$users" --sessions-per-user "$per_user" --seed 1 -o "$data" 2>/dev/null
coproc FAKE { exec python3 "$shared/bench/fake_tautulli.py" 0 "$data" --api-key "$key" --rebase-now 2>/dev/null; }
fake_pid=$FAKE_PID
read -r line <&"${FAKE[0]}"
url=$(echo "$line" | awk '{print $2}')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
log=target/bench-data/soak-serve.log
"$bin" serve --tautulli-url "$url" --tautulli-api-key "$key" --web.listen-address "127.0.0.1:$port" \
  --refresh-interval 1s --full-reload-interval 30s --users-refresh-interval 10s --geo --log.level warn 2>"$log" &
pid=$!
trap 'kill $pid $fake_pid 2>/dev/null || true' EXIT
until curl -sf "$base/-/ready" >/dev/null; do sleep 0.2; done
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
metric() { curl -s "$base/metrics" | awk -v m="$1" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
refreshes() { metric 'plex_sharing_tautulli_requests_total{server="default",cmd="get_activity",outcome="success"}'; }
echo "dataset: $users users x $per_user sessions, $(metric 'plex_sharing_history_rows{') sessions in the window; RSS after the first load: $(rss) kB"

# 1. Load.
paths=(/metrics /api/v1/users)
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/users")" = 200 ] && paths+=(/users)
r0=$(refreshes)
outs=(); wrks=()
for p in "${paths[@]}"; do
  out=$(mktemp)
  outs+=("$out")
  wrk -t1 -c16 -d"${load}s" --latency "$base$p" >"$out" 2>&1 &
  wrks+=($!)
done
wait "${wrks[@]}"
r1=$(refreshes)
errors=0
echo "load: ${load} s, ${#paths[@]} paths at once (wrk -t1 -c16 each), $((r1 - r0)) refreshes meanwhile"
for i in "${!paths[@]}"; do
  out=${outs[$i]}
  reqs=$(awk '/requests in/ {print $1}' "$out")
  rps=$(awk '/Requests\/sec/ {print $2}' "$out")
  p50=$(awk '$1 == "50%" {print $2}' "$out"); p99=$(awk '$1 == "99%" {print $2}' "$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$out"); non2xx=${non2xx:-0}
  sock=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out"); sock=${sock:-0}
  errors=$((errors + non2xx + sock))
  printf '  %-14s %8s requests  %9s req/s  p50 %-8s p99 %-8s non-2xx %s  socket errors %s\n' \
    "${paths[$i]}" "$reqs" "$rps" "$p50" "$p99" "$non2xx" "$sock"
  rm -f "$out"
done

# 2. Soak.
samples=()
s0=$(refreshes)
for ((t = 0; t < soak; t += 5)); do
  curl -s "$base/metrics" >/dev/null
  samples+=("$(rss)")
  sleep 5
done
s1=$(refreshes)
failed=$(metric 'plex_sharing_refresh_failures_total{server="default"')
up=$(metric 'plex_sharing_up{server="default"}')
printf '%s\n' "${samples[@]}" | python3 -c '
import statistics, sys
s = [int(x) for x in sys.stdin.read().split()]
q = max(1, len(s) // 4)
first, last = statistics.median(s[:q]), statistics.median(s[-q:])
flat = last <= first * 1.10 + 2048
verdict = "FLAT" if flat else "GROWING"
print(f"soak: {len(s)} samples every 5 s; VmRSS first {s[0]/1024:.1f} MiB, last {s[-1]/1024:.1f} MiB, "
      f"max {max(s)/1024:.1f} MiB, min {min(s)/1024:.1f} MiB; median first quarter {first/1024:.1f} MiB, "
      f"last quarter {last/1024:.1f} MiB: {verdict}")
sys.exit(0 if flat else 3)
' && flat=1 || flat=0
echo "soak: $((s1 - s0)) refreshes in ${soak} s, refresh failures $failed, up $up"
if [ "$errors" -ne 0 ] || [ "$flat" -ne 1 ] || [ "$failed" != 0 ] || [ "$up" != 1 ]; then
  echo "FAIL: $errors load errors, flat=$flat, failures=$failed, up=$up (log: $log)" >&2
  exit 1
fi
echo "OK: 0 errors under load, memory flat over ${soak} s of 1 s refreshes"
