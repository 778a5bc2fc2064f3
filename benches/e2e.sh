#!/usr/bin/env bash
# End-to-end comparison with the reference script on the same fake Tautulli and data.
#
#   [PAGE=rows] benches/e2e.sh [USERS] [SESSIONS_PER_USER] [DELAY_MS] [--geo]
#
# Generates a dataset with ../shared/bench/gen_bench_data.py (cached in target/bench-data),
# serves it with ../shared/bench/fake_tautulli.py, and runs the reference script and
# `plex-sharing-exporter report` against it, each on a fresh server so the request counts
# (printed by the fake on exit) are per tool. Prints one markdown table row per tool.
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-200}; per_user=${2:-2000}; delay=${3:-20}; geo=${4:-}
shared=${SHARED:-../shared}
key=benchkey0123456789abcdef01234567
bin=target/release/plex-sharing-exporter
[ -x "$bin" ] || cargo build --release --quiet
mkdir -p target/bench-data
now=$(( $(date +%s) / 3600 * 3600 ))
data=target/bench-data/u${users}-s${per_user}.json
if [ ! -s "$data" ]; then
  python3 "$shared/bench/gen_bench_data.py" --users "$users" --sessions-per-user "$per_user" --seed 1 --now "$now" -o "$data"
fi

serve() { # starts the fake, sets $url and $fake_pid; stats go to $1
  coproc FAKE { exec python3 "$shared/bench/fake_tautulli.py" 0 "$data" --api-key "$key" --delay-ms "$delay" --rebase-now 2>"$1"; }
  fake_pid=$FAKE_PID
  read -r line <&"${FAKE[0]}"
  url=$(echo "$line" | awk '{print $2}')
}
stop() { kill -TERM "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; }

row() { # name stats-file seconds flagged
  local calls; calls=$(sed -n 's/^fake_tautulli: \([0-9]*\) request.*/\1/p' "$2")
  local detail; detail=$(sed -n 's/^fake_tautulli: [0-9]* request(s): //p' "$2")
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$3" "$calls" "$4" "$detail"
}

echo "dataset: $users users x $per_user sessions, fake delay ${delay} ms ${geo}"
echo "| tool | wall s | API calls | users flagged | calls by command |"
echo "|---|---|---|---|---|"

stats=$(mktemp); out=$(mktemp)
serve "$stats"
t0=$(date +%s.%N)
TZ=UTC python3 "$shared/seed/sharing_detector.py" --host "$url" --api-key "$key" $geo >"$out" 2>&1 || true
t1=$(date +%s.%N)
stop
flagged=$(sed -n 's/.*DEVICE BREAKDOWN  —  \([0-9]*\) user(s) flagged.*/\1/p' "$out"); flagged=${flagged:-0}
row "reference script" "$stats" "$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")" "$flagged"

serve "$stats"
t0=$(date +%s.%N)
TZ=UTC "$bin" report --tautulli-url "$url" --tautulli-api-key "$key" $geo --format json ${PAGE:+--tautulli-page-size "$PAGE"} >"$out"
t1=$(date +%s.%N)
stop
flagged=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(u['flagged'] for u in d['users']), sum(u['plays'] for u in d['users']))" "$out")
row "plex-sharing-exporter report${PAGE:+ (page $PAGE)}" "$stats" "$(printf '%.1f' "$(echo "$t1 - $t0" | bc)")" "${flagged% *} (plays seen: ${flagged#* })"
rm -f "$stats" "$out"
