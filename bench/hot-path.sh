#!/usr/bin/env bash
# bench/hot-path.sh — the hot-path benchmark of the reference server (issue 6).
#
# Why: the reference server's per-request cost is judged as a ratio to a minimal axum server
# measured in the same run on the same machine, so the machine's speed and its other load
# cancel out. Targets: GET /health >= 90 % of the minimal server's requests per second;
# authenticated GET /api/v1/sessions/{id} >= 50 %; provider-switch p99 <= 5 ms at 1,000
# switches/s over 100 live sessions; RSS back under 50 MB within a minute after the load.
#
# What it does:
#   1. builds release binaries: voice-reference-server and the examples `minimal` (the
#      yardstick) and `switch_load` (an open-loop load generator);
#   2. starts the minimal server and the reference server (embedded SQLite in a temp dir,
#      in-process cache, `--log-format json` at the default `info` level, logs to a file as
#      in production), both on free loopback ports;
#   3. registers a user and creates a session with curl;
#   4. runs `wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION` (default -t2 -c64 -d10s)
#      against: minimal /health; reference /health; reference GET /api/v1/sessions/{id}
#      with the bearer token (a generated wrk Lua script adds the header);
#   5. runs `switch_load` (default 1000 switches/s for 10 s over 100 sessions, each with a
#      stream connected; latency from the intended send time, coordinated omission corrected);
#   6. reads the server's VmRSS from /proc right after the load and again 60 s later;
#   7. prints a table with the rps and the ratios to the minimal server.
#
# Usage: bash bench/hot-path.sh
# Environment (all optional): WRK_THREADS=2 WRK_CONNECTIONS=64 WRK_DURATION=10s ROUNDS=1
#   (wrk rounds; each round measures all three targets) SWITCH_RATE=1000 SWITCH_SECONDS=10
#   SWITCH_SESSIONS=100 RSS_WAIT=60 CARGO_TARGET_DIR (where the release build goes).
# Needs: cargo, curl, wrk. Installs nothing: without wrk it says how to get it and exits 2.
# Exit status: 0 measured (targets missed are reported, not failed); 1 a step failed;
# 2 a tool is missing. The access token never appears on a command line or in the output.
set -euo pipefail

WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNECTIONS=${WRK_CONNECTIONS:-64}
WRK_DURATION=${WRK_DURATION:-10s}
ROUNDS=${ROUNDS:-1}
SWITCH_RATE=${SWITCH_RATE:-1000}
SWITCH_SECONDS=${SWITCH_SECONDS:-10}
SWITCH_SESSIONS=${SWITCH_SESSIONS:-100}
RSS_WAIT=${RSS_WAIT:-60}

for tool in cargo curl; do
    command -v "$tool" >/dev/null || { echo "$tool is missing" >&2; exit 2; }
done
if ! command -v wrk >/dev/null; then
    echo "wrk is missing: apt-get install wrk" >&2
    exit 2
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== building release binaries" >&2
# The whole workspace, as `cargo build --release` builds it (one feature set for shared crates).
(cd "$ROOT" && cargo build --release --quiet --workspace --bins --examples) >&2

# Waits until "$1" (a log file) names the bound address; prints host:port.
bound_addr() {
    local log=$1 addr=""
    for _ in $(seq 100); do
        addr=$(grep -o -m1 '127\.0\.0\.1:[0-9]\+' "$log" 2>/dev/null || true)
        [ -n "$addr" ] && { echo "$addr"; return 0; }
        sleep 0.1
    done
    echo "no listening address in $log:" >&2
    cat "$log" >&2
    return 1
}

echo "== starting servers" >&2
"$BIN/examples/minimal" 127.0.0.1:0 >"$WORK/minimal.log" 2>&1 &
PIDS+=($!)
MINIMAL=http://$(bound_addr "$WORK/minimal.log")
"$BIN/voice-reference-server" --addr 127.0.0.1:0 \
    --database-url "sqlite://$WORK/bench.db?mode=rwc" \
    --log-format json >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
REFERENCE=http://$(bound_addr "$WORK/server.log")
RSS_START=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")

echo "== registering a user and creating a session" >&2
curl -fsS -o "$WORK/register.json" -H 'content-type: application/json' \
    -d "{\"email\":\"bench-$$@example.com\",\"password\":\"bench-password-$$\"}" \
    "$REFERENCE/api/v1/auth/register"
TOKEN=$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$WORK/register.json")
[ -n "$TOKEN" ] || { echo "no access token in the register answer" >&2; exit 1; }
export BENCH_TOKEN=$TOKEN
printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" >"$WORK/curl.cfg"
curl -fsS -o "$WORK/session.json" -K "$WORK/curl.cfg" -H 'content-type: application/json' \
    -d '{"provider":"gemini"}' "$REFERENCE/api/v1/sessions"
SESSION=$(sed -n 's/.*"session":{"id":"\([^"]*\)".*/\1/p' "$WORK/session.json")
[ -n "$SESSION" ] || { echo "no session id in the create answer" >&2; exit 1; }
cat >"$WORK/auth.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
LUA

# Runs wrk against "$1" (plus extra args); prints requests/s. Any non-2xx answer fails the run.
run_wrk() {
    local url=$1 out
    shift
    out=$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" --latency "$@" "$url")
    if grep -q 'Non-2xx' <<<"$out"; then
        echo "wrk saw error answers from $url:" >&2
        echo "$out" >&2
        exit 1
    fi
    awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f %%", 100 * a / b }'; }

ROWS=()
for round in $(seq "$ROUNDS"); do
    echo "== wrk round $round/$ROUNDS: -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION" >&2
    min_rps=$(run_wrk "$MINIMAL/health")
    ref_health=$(run_wrk "$REFERENCE/health")
    ref_session=$(run_wrk "$REFERENCE/api/v1/sessions/$SESSION" -s "$WORK/auth.lua")
    ROWS+=("$round|$min_rps|$ref_health|$(ratio "$ref_health" "$min_rps")|$ref_session|$(ratio "$ref_session" "$min_rps")")
done

echo "== switch load: $SWITCH_RATE/s for ${SWITCH_SECONDS}s over $SWITCH_SESSIONS sessions" >&2
SWITCH_LOAD_TOKEN=$TOKEN "$BIN/examples/switch_load" --base-url "$REFERENCE" \
    --rate "$SWITCH_RATE" --seconds "$SWITCH_SECONDS" --sessions "$SWITCH_SESSIONS" \
    >"$WORK/switch.txt"
SWITCH=$(cat "$WORK/switch.txt")
RSS_AFTER=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
echo "== waiting ${RSS_WAIT}s for RSS to settle" >&2
sleep "$RSS_WAIT"
RSS_LATER=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status")
LOG_LINES=$(wc -l <"$WORK/server.log")

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$SWITCH"; }
mb() { awk -v k="$1" 'BEGIN { printf "%.1f MB", k / 1024 }'; }

echo
echo "hot path, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION; switch_load --rate $SWITCH_RATE --seconds $SWITCH_SECONDS --sessions $SWITCH_SESSIONS"
echo
echo "| round | minimal /health rps | reference /health rps | ratio (target >= 90 %) | reference GET session rps | ratio (target >= 50 %) |"
echo "|---|---|---|---|---|---|"
for row in "${ROWS[@]}"; do
    IFS='|' read -r r a b c d e <<<"$row"
    echo "| $r | $a | $b | $c | $d | $e |"
done
echo
echo "| switches (open loop) | sent | ok | errors | p50 | p99 (target <= 5 ms) | max | pushed to streams |"
echo "|---|---|---|---|---|---|---|---|"
echo "| $SWITCH_RATE/s x ${SWITCH_SECONDS}s, $SWITCH_SESSIONS sessions | $(field sent) | $(field ok) | $(field errors) | $(field p50_ms) ms | $(field p99_ms) ms | $(field max_ms) ms | $(field pushed) |"
echo
echo "| server RSS | at start | right after the load | ${RSS_WAIT} s later (target < 50 MB) |"
echo "|---|---|---|---|"
echo "| VmRSS | $(mb "$RSS_START") | $(mb "$RSS_AFTER") | $(mb "$RSS_LATER") |"
echo
echo "switch_load said: $SWITCH"
echo "server log lines written: $LOG_LINES"
