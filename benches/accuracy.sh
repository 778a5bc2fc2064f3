#!/usr/bin/env bash
# Detection accuracy on ../shared/bench's planted dataset: which users each scoring
# profile (and the reference script) flags, against the generator's labels
# (sharer and teleporter = sharing; normal, lan, single, dormant = honest).
#
#   benches/accuracy.sh [USERS] [SESSIONS_PER_USER] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
users=${1:-200}; per_user=${2:-300}; seed=${3:-7}
shared=${SHARED:-../shared}
key=benchkey0123456789abcdef01234567
bin=target/release/plex-sharing-exporter
[ -x "$bin" ] || cargo build --release --quiet
mkdir -p target/bench-data
data=target/bench-data/acc-u${users}-s${per_user}-seed${seed}.json
[ -s "$data" ] || python3 "$shared/bench/gen_bench_data.py" --users "$users" --sessions-per-user "$per_user" --seed "$seed" -o "$data" 2>/dev/null
coproc FAKE { exec python3 "$shared/bench/fake_tautulli.py" 0 "$data" --api-key "$key" --rebase-now 2>/dev/null; }
read -r line <&"${FAKE[0]}"
url=$(echo "$line" | awk '{print $2}')
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
out=$(mktemp -d)
for profile in evidence reference; do
  TZ=UTC "$bin" report --tautulli-url "$url" --tautulli-api-key "$key" --geo --scoring "$profile" --format json > "$out/$profile.json"
done
TZ=UTC python3 "$shared/seed/sharing_detector.py" --host "$url" --api-key "$key" --geo > "$out/seed.txt" 2>&1 || true
python3 - "$data" "$out" <<'PY'
import json, re, sys
data = json.load(open(sys.argv[1])); out = sys.argv[2]
kind = {uid: k for k, ids in data["meta"]["planted"].items() for uid in ids}
names = {u["user_id"]: u["friendly_name"] for u in data["users"]}
positive = {"sharer", "teleporter"}
def table(label, flagged):
    rows = {}
    for uid, k in kind.items():
        r = rows.setdefault(k, [0, 0]); r[0] += 1; r[1] += uid in flagged
    tp = sum(1 for u in flagged if kind.get(u) in positive)
    fp = sum(1 for u in flagged if kind.get(u) not in positive)
    fn = sum(1 for u, k in kind.items() if k in positive and u not in flagged)
    prec = tp / (tp + fp) if tp + fp else 0.0; rec = tp / (tp + fn) if tp + fn else 0.0
    per = ", ".join(f"{k} {r[1]}/{r[0]}" for k, r in sorted(rows.items()))
    print(f"| {label} | {tp} | {fp} | {fn} | {prec:.2f} | {rec:.2f} | {per} |")
print("| detector | TP | FP | FN | precision | recall | flagged per planted kind |")
print("|---|---|---|---|---|---|---|")
for profile in ("evidence", "reference"):
    doc = json.load(open(f"{out}/{profile}.json"))
    table(f"`report --scoring {profile}`", {u["user_id"] for u in doc["users"] if u["flagged"]})
seed = open(f"{out}/seed.txt").read()
section = seed.split("DEVICE BREAKDOWN", 1)[-1] if "DEVICE BREAKDOWN" in seed else ""
table("reference script", {int(m) for m in re.findall(r"\(user_id: (\d+)\)", section)})
PY
rm -rf "$out"
