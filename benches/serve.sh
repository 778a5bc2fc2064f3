#!/usr/bin/env bash
# Exporter figures: `/metrics` latency under load, memory with a large window, and Tautulli
# calls per steady-state refresh.
#
#   benches/serve.sh [USERS] [SESSIONS_PER_USER]     (defaults: 1000 users x 100 sessions)
#
# Serves a ../shared/bench dataset with fake_tautulli.py, runs the release binary's `serve`
# against it, waits for the first refresh, then:
# - loads /metrics with wrk (50 connections, 2 threads, 20 s) and prints its latency
#   distribution (Debian package `wrk`);
# - samples the exporter's RSS over 10 s of refreshes, and prints its peak (VmHWM);
# - counts Tautulli requests over 5 steady refreshes (--refresh-interval 2s).
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-1000}; per_user=${2:-100}
shared=${SHARED:-../shared}
key=benchkey0123456789abcdef01234567
bin=target/release/plex-sharing-exporter
[ -x "$bin" ] || cargo build --release --quiet
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
mkdir -p target/bench-data
data=target/bench-data/u${users}-s${per_user}.json
[ -s "$data" ] || python3 "$shared/bench/gen_bench_data.py" --users "$users" --sessions-per-user "$per_user" --seed 1 -o "$data" 2>/dev/null
coproc FAKE { exec python3 "$shared/bench/fake_tautulli.py" 0 "$data" --api-key "$key" --rebase-now 2>/dev/null; }
read -r line <&"${FAKE[0]}"
url=$(echo "$line" | awk '{print $2}')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" serve --tautulli-url "$url" --tautulli-api-key "$key" --web.listen-address "127.0.0.1:$port" \
  --refresh-interval 2s --geo --log.level warn &
pid=$!
trap 'kill $pid $FAKE_PID 2>/dev/null || true' EXIT
t0=$(date +%s.%N)
until curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null; do sleep 0.2; done
t1=$(date +%s.%N)
echo "dataset: $users users x $per_user sessions; first full load + analysis: $(echo "$t1 - $t0" | bc) s"
metrics=$(curl -s "http://127.0.0.1:$port/metrics")
echo "window: $(echo "$metrics" | grep '^plex_sharing_history_rows' | awk '{print $2}') sessions, $(echo "$metrics" | grep -c '^plex_sharing_user_score{') users, $(echo "$metrics" | grep -vc '^#') series, $(echo "$metrics" | wc -c) bytes"
calls() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^plex_sharing_tautulli_requests_total/ {s+=$2} END {print s}'; }
refreshes() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^plex_sharing_tautulli_requests_total.*get_activity/ {s+=$2} END {print s}'; }
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
c0=$(calls); r0=$(refreshes)
samples=(); for _ in $(seq 21); do samples+=("$(rss)"); sleep 0.5; done
c1=$(calls); r1=$(refreshes)
echo "steady state: $((c1 - c0)) Tautulli calls in $((r1 - r0)) refreshes; last refresh took $(curl -s "http://127.0.0.1:$port/metrics" | awk '/^plex_sharing_refresh_duration_seconds/ {print $2}') s"
printf '%s\n' "${samples[@]}" | sort -n | awk '{a[NR]=$1} END {printf "RSS over those refreshes (21 samples): min %.1f MiB, max %.1f MiB\n", a[1]/1024, a[NR]/1024}'
grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' ' | tr '\n' ' '; echo
echo "wrk, 50 connections, as Prometheus scrapes (Accept-Encoding: gzip):"
wrk -t2 -c50 -d20s --latency -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/metrics" | sed -n '/Latency Distribution/,/Requests\/sec/p'
echo "wrk, 50 connections, uncompressed:"
wrk -t2 -c50 -d20s --latency "http://127.0.0.1:$port/metrics" | sed -n '/Latency Distribution/,/Requests\/sec/p'
grep -E 'VmRSS|VmHWM' /proc/$pid/status | tr -s ' ' | tr '\n' ' '; echo
