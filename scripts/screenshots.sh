#!/usr/bin/env bash
# Screenshots of the web pages for humans: runs `demo` (a simulated Tautulli with planted
# sharers) and has headless Chromium write PNGs of the landing page, /users, a sharer's
# report and a teleporter's report.
#
#   scripts/screenshots.sh [OUT_DIR]        default OUT_DIR: target/screenshots
#
# Needs Debian's `chromium` (apt-get install chromium). PORT (default 19595) and
# CHROMIUM (default: chromium on PATH) can be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/screenshots}
port=${PORT:-19595}
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  echo "chromium not found: install Debian's chromium (apt-get install chromium)" >&2
  exit 1
fi
cargo build --quiet --bin plex-sharing-exporter
mkdir -p "$out"
base="http://127.0.0.1:$port"
target/debug/plex-sharing-exporter --log.level warn demo \
  --web.listen-address "127.0.0.1:$port" --web.external-url "$base" &
pid=$!
profile=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$profile"' EXIT

# The first refresh of the simulated month takes a moment.
ready=""
for _ in $(seq 150); do
  if curl -fsS "$base/-/ready" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.2
done
[ -n "$ready" ] || { echo "demo did not become ready on $base" >&2; exit 1; }

shot() { # name path height
  "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --no-first-run --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --window-size="1280,$3" \
    --screenshot="$out/$1.png" "$base$2" >/dev/null 2>&1
  echo "$out/$1.png  <- $base$2"
}
shot landing / 800
shot users /users 1100
shot user-sharer /users/demo/1001 3600
shot user-teleporter /users/demo/1006 3600
