#!/usr/bin/env bash
# Reading at the floor: how close `report` and `serve` come to what Tautulli itself needs
# to hand over the window's rows and to locate its addresses, as ratios from one run.
#
#   benches/read.sh                      # the shared fake Tautulli on generated data
#   benches/read.sh URL KEY_FILE         # any Tautulli (a real one: read-only API calls)
#
# Environment: USERS, SESSIONS (generated data; 100 x 530 = about 52,000 rows), DAYS (30),
# GEOIP_DB (adds a --geoip-db row), SHARED (../shared), and which fake serves the data:
#   FAKE=shared   ../shared/bench/fake_tautulli.py (default). It does not sort history
#                 (rows come newest first whatever is asked); DELAY_MS adds latency to
#                 every request. NODELAY=1 starts it with Nagle's algorithm off: Python's
#                 http.server writes a response's headers and body apart, so on a kept-alive
#                 connection (the exporter's, not the floor's fresh curl ones) each small
#                 answer waits for a delayed ACK, about 40 ms.
#   FAKE=own      examples/fake_tautulli.rs, the test suite's simulated Tautulli. It sorts
#                 as asked, as Tautulli does; LOOKUP_DELAY_MS makes each GeoIP lookup take
#                 that long (plex.tv answers across the internet, not from loopback);
#                 HISTORY_COST=MS,US,US makes each history answer cost what it costs
#                 Tautulli, one at a time: per request, per row matched, per row returned
#                 (HISTORY_COST=170,45,48 is docs/performance.md's model of the issue's server).
# FLAGS adds flags to every report and serve run (FLAGS="--tautulli-page-size 5000").
# Rows:
#   floor: rows    one get_history request for every row of the window
#   floor: geo     one get_geoip_lookup per distinct public address, 8 at once
#   report         report (no GeoIP), report --geo cold and warm (--geoip.cache-file)
#   serve          serve --geo from start to /-/ready
#   reference      the reference script with --geo (fake only: it needs TAUTULLI-style host)
# With the fake, each row also gives the requests it made, by command.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
days=${DAYS:-30}
bin=target/release/plex-sharing-exporter
[ -x "$bin" ] || cargo build --release --quiet --bin plex-sharing-exporter
own=target/release/examples/fake_tautulli
fake_kind=${FAKE:-shared} # read now: the coproc below is named FAKE too
[ "$fake_kind" != own ] || [ -x "$own" ] || cargo build --release --quiet --example fake_tautulli
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${fake_pid:-}" ] && kill "$fake_pid" 2>/dev/null || true' EXIT

if [ $# -ge 2 ]; then
  url=$1; key=$(tr -d '[:space:]' <"$2"); fake=""
else
  users=${USERS:-100}; per_user=${SESSIONS:-530}
  key=benchkey0123456789abcdef01234567
  mkdir -p target/bench-data
  data=target/bench-data/read-u${users}-s${per_user}.json
  [ -s "$data" ] || python3 "$shared/bench/gen_bench_data.py" --users "$users" --sessions-per-user "$per_user" \
    --seed 1 --now "$(( $(date +%s) / 3600 * 3600 ))" -o "$data" >/dev/null 2>&1
  fake=yes
fi

start_fake() { # a fresh fake per row, so its request counts are that row's
  [ -n "$fake" ] || return 0
  if [ "$fake_kind" = own ]; then
    { coproc FAKE { exec "$own" 0 "$data" --api-key "$key" --rebase-now \
      --lookup-delay-ms "${LOOKUP_DELAY_MS:-0}" --history-cost "${HISTORY_COST:-0,0,0}" 2>"$work/fake.log"; }; } 2>/dev/null
  else
    { coproc FAKE { exec python3 -c '
import runpy, socketserver, sys
socketserver.StreamRequestHandler.disable_nagle_algorithm = sys.argv.pop(1) == "1"
sys.argv[0] = sys.argv[1]
runpy.run_path(sys.argv.pop(1), run_name="__main__")' "${NODELAY:-0}" "$shared/bench/fake_tautulli.py" \
      0 "$data" --api-key "$key" --delay-ms "${DELAY_MS:-0}" --rebase-now 2>"$work/fake.log"; }; } 2>/dev/null
  fi
  fake_pid=$FAKE_PID
  read -r line <&"${FAKE[0]}"
  url=$(echo "$line" | awk '{print $2}')
}
stop_fake() {
  [ -n "$fake" ] || { echo "-"; return 0; }
  kill -TERM "$fake_pid"; wait "$fake_pid" 2>/dev/null || true; fake_pid=""
  for _ in $(seq 40); do grep -q '^fake_tautulli:' "$work/fake.log" && break; sleep 0.05; done
  sed -n 's/^fake_tautulli: [0-9]* request(s): //p' "$work/fake.log"
}
now() { date +%s.%N; }
declare -a rows
add() { rows+=("$1|$2|$3"); } # name seconds requests

# The floor: every row of the window in one request (dates padded as the exporter pads them).
start_fake
after=$(date -u -d "@$(( $(date +%s) - (days + 1) * 86400 ))" +%F)
before=$(date -u -d "@$(( $(date +%s) + 86400 ))" +%F)
t0=$(now)
curl -fsS "$url/api/v2?apikey=$key&cmd=get_history&grouping=0&include_activity=0&order_column=started&order_dir=asc&after=$after&before=$before&start=0&length=100000000" >"$work/all.json"
t1=$(now)
add "floor: rows (one request)" "$(echo "$t1 - $t0" | bc)" "$(stop_fake)"
python3 - "$work/all.json" >"$work/ips.txt" <<'PY'
import ipaddress, json, sys
rows = json.load(open(sys.argv[1]))["response"]["data"]["data"]
ips = set()
for r in rows:
    try:
        ip = ipaddress.ip_address(str(r.get("ip_address") or ""))
    except ValueError:
        continue
    if ip.is_global and not str(r.get("relayed") or "0") == "1":
        ips.add(str(ip))
print("\n".join(sorted(ips)))
PY
start_fake
t0=$(now)
xargs -P 8 -I{} curl -sS -o /dev/null "$url/api/v2?apikey=$key&cmd=get_geoip_lookup&ip_address={}" <"$work/ips.txt" || true
t1=$(now)
add "floor: geo ($(wc -l <"$work/ips.txt") addresses, 8 at once)" "$(echo "$t1 - $t0" | bc)" "$(stop_fake)"

run_report() { # name, flags...
  local name=$1; shift
  start_fake
  t0=$(now)
  # shellcheck disable=SC2086 # FLAGS is a list of flags
  TZ=UTC "$bin" report --tautulli-url "$url" --tautulli-api-key "$key" --days "$days" --format json ${FLAGS:-} "$@" >"$work/out.json"
  t1=$(now)
  add "$name" "$(echo "$t1 - $t0" | bc)" "$(stop_fake)"
}
run_report "report"
[ -n "${GEOIP_DB:-}" ] && run_report "report --geoip-db" --geoip-db "$GEOIP_DB"
run_report "report --geo, cold" --geo --geoip.cache-file "$work/geo-cache.json"
run_report "report --geo, warm" --geo --geoip.cache-file "$work/geo-cache.json"

start_fake
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
t0=$(now)
# shellcheck disable=SC2086 # FLAGS is a list of flags
"$bin" serve --tautulli-url "$url" --tautulli-api-key "$key" --days "$days" --geo ${FLAGS:-} \
  --web.listen-address "127.0.0.1:$port" --log.level warn >"$work/serve.log" 2>&1 &
serve_pid=$!
until curl -fsS -o /dev/null "http://127.0.0.1:$port/-/ready" 2>/dev/null; do sleep 0.05; done
t1=$(now)
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
add "serve --geo to ready" "$(echo "$t1 - $t0" | bc)" "$(stop_fake)"

if [ -n "$fake" ]; then
  start_fake
  t0=$(now)
  TZ=UTC python3 "$shared/seed/sharing_detector.py" --host "$url" --api-key "$key" --geo --days "$days" >/dev/null 2>&1 || true
  t1=$(now)
  add "reference script --geo" "$(echo "$t1 - $t0" | bc)" "$(stop_fake)"
fi

floor_rows=$(echo "${rows[0]}" | cut -d'|' -f2)
floor_geo=$(echo "${rows[1]}" | cut -d'|' -f2)
echo "| what | seconds | x floor | requests |"
echo "|---|---|---|---|"
for r in "${rows[@]}"; do
  IFS='|' read -r name secs reqs <<<"$r"
  case $name in
    "floor: geo"*) floor=$floor_geo ;;
    *warm*) floor=$floor_rows ;;
    *--geo*|serve*) floor=$(echo "$floor_rows + $floor_geo" | bc) ;;
    *) floor=$floor_rows ;;
  esac
  printf '| %s | %.2f | %.2f | %s |\n' "$name" "$secs" "$(echo "$secs / $floor" | bc -l)" "$reqs"
done
echo "(x floor: against the rows floor; rows that locate cold against rows + geo floors)"
