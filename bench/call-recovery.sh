#!/usr/bin/env bash
# bench/call-recovery.sh — recovery of active calls at start (issue 7), embedded shape.
#
# Why: at start the reference server loads every non-terminal call from the database into the
# cache (two-tier call state), and `/ready` reports how many and how long. The issue's target
# is 100,000 active calls recovered in <= 1 s on SQLite (the seed's: 1,000 in 5 s).
#
# What it does: builds the release server; starts it once on a fresh SQLite file so that the
# migrations create the schema, stops it; inserts CALLS active calls (status `answered`,
# no `ended_at`) of one user straight into the `calls` table with Python's sqlite3 module in
# one transaction; starts the server again on the same file and prints `/ready`'s `recovery`
# (calls, duration_ms, cached) and the server's RSS.
#
# Usage: bash bench/call-recovery.sh   (CALLS=100000 by default; CARGO_TARGET_DIR honoured)
# Needs: cargo, curl, python3. Exit status: 0 measured; 1 a step failed.
set -euo pipefail

CALLS=${CALLS:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/voice-reference-server
WORK=$(mktemp -d)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && cargo build --release --quiet --workspace --bins) >&2
DB="sqlite://$WORK/calls.db?mode=rwc"

# Starts the server on the bench database; waits for /ready; sets PID and URL.
start() {
    "$BIN" --addr 127.0.0.1:0 --database-url "$DB" >"$WORK/server.log" 2>&1 &
    PID=$!
    for _ in $(seq 300); do
        URL=$(grep -o -m1 'http://127\.0\.0\.1:[0-9]\+\|127\.0\.0\.1:[0-9]\+' "$WORK/server.log" | head -1 || true)
        if [ -n "$URL" ]; then
            URL=http://${URL#http://}
            curl -fsS -o "$WORK/ready.json" "$URL/ready" 2>/dev/null && return 0
        fi
        sleep 0.1
    done
    echo "the server did not become ready:" >&2
    cat "$WORK/server.log" >&2
    return 1
}

stop() {
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
}

echo "== creating the schema" >&2
start
stop

echo "== inserting $CALLS active calls" >&2
python3 - "$WORK/calls.db" "$CALLS" <<'PY'
import sqlite3, sys, uuid, datetime
path, n = sys.argv[1], int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
user = str(uuid.uuid4())
db = sqlite3.connect(path)
with db:
    db.executemany(
        "INSERT INTO calls (call_id, user_id, session_id, provider, direction, status, "
        "from_number, to_number, call_metadata, created_at, updated_at, ended_at) "
        "VALUES (?, ?, NULL, 'twilio', 'outbound', 'answered', '+14155550100', "
        "'+14155550101', '{}', ?, ?, NULL)",
        ((str(uuid.uuid4()), user, now, now) for _ in range(n)),
    )
db.close()
PY

echo "== starting on the same database" >&2
start
RSS=$(awk '/VmRSS/ {printf "%.1f MB", $2 / 1024}' "/proc/$PID/status")
echo "call recovery, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $CALLS active calls, SQLite"
python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['recovery']; print('recovered', r['calls'], 'calls in', round(r['duration_ms'], 1), 'ms; cached:', r['cached'])" "$WORK/ready.json"
echo "server RSS after recovery: $RSS"
