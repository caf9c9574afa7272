#!/usr/bin/env bash
# Ferrocore against Mosquitto on this machine, with ferrocore-bench.
#
# Installs Mosquitto from Debian's packages if it is missing, builds the release binaries,
# starts both brokers on free loopback ports, runs every case against both (alternating which
# goes first) R times, and prints the median of each broker and the ratio Ferrocore/Mosquitto,
# then Ferrocore's durable publish rate against its own in-memory QoS 1 rate. The connect
# case also runs against the connect floor (ferrocore-connect-floor: accept, read CONNECT,
# answer, nothing else), the most any broker could reach with this generator on this machine.
# Results: bench/results/compare.jsonl (one JSON line per run), compare.md (the table) and
# compare.svg (a chart of the ratios).
#
# Environment: R (rounds, default 3), DURATION (measured seconds per throughput run, default
# 5), WARMUP (default 1), CONNS (idle connections, default 15000), SKIP_BUILD=1 to use the
# binaries as they are, FERROCORE_BIN, BENCH_BIN and FLOOR_BIN to use other binaries,
# RESULTS_DIR.
#
# Ferrocore runs with its defaults (the `aws` profile) except one limit: the aws profile
# allows 100 publishes per second per connection, which would make a throughput benchmark
# meaningless, so FERROCORE_BROKER_MAX_PUBLISHES_PER_SECOND=0 lifts it. Mosquitto runs with
# its defaults except `persistence false` (nothing is written to disk) and anonymous access.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
R=${R:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-15000}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
FERROCORE_BIN=${FERROCORE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferrocore}
BENCH_BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferrocore-bench}
FLOOR_BIN=${FLOOR_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferrocore-connect-floor}

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "compare.sh: $*" >&2; }

# --- tools ---------------------------------------------------------------------------------
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    log "installing mosquitto from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    apt-get install -y -qq mosquitto >/dev/null || die "apt-get install mosquitto failed"
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
command -v python3 >/dev/null || die "python3 is needed for the report"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release -p ferrocore-server -p ferrocore-bench) \
        || die "cargo build failed"
fi
[ -x "$FERROCORE_BIN" ] || die "no Ferrocore binary at $FERROCORE_BIN"
[ -x "$BENCH_BIN" ] || die "no ferrocore-bench binary at $BENCH_BIN"
[ -x "$FLOOR_BIN" ] || die "no ferrocore-connect-floor binary at $FLOOR_BIN"

# Both brokers and the generator need a file descriptor per connection.
ulimit -n "$(ulimit -Hn)" || true
[ "$(ulimit -n)" -gt $((CONNS + 500)) ] \
    || die "open files limit $(ulimit -n) is too low for CONNS=$CONNS"

# --- brokers -------------------------------------------------------------------------------
TMP=$(mktemp -d /tmp/ferrocore-compare.XXXXXX)
FC_PID=""
MQ_PID=""
FL_PID=""

stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_pid "$FC_PID"
    stop_pid "$MQ_PID"
    stop_pid "$FL_PID"
    FC_PID=""
    MQ_PID=""
    FL_PID=""
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

FC_PORT=$(free_port)
MQ_PORT=$(free_port)
while [ "$MQ_PORT" = "$FC_PORT" ]; do MQ_PORT=$(free_port); done
FL_PORT=$(free_port)
while [ "$FL_PORT" = "$FC_PORT" ] || [ "$FL_PORT" = "$MQ_PORT" ]; do FL_PORT=$(free_port); done

start_ferrocore() {
    stop_pid "$FC_PID"
    rm -rf "$TMP/ferrocore-data"
    # The AWS API and TLS listeners are not measured; off, so that they cannot collide on
    # their fixed ports.
    FERROCORE_API_ADDR=off FERROCORE_MQTTS_ADDR=off FERROCORE_HTTPS_ADDR=off \
        FERROCORE_BROKER_MAX_PUBLISHES_PER_SECOND=0 "$FERROCORE_BIN" serve \
        --mqtt-addr "127.0.0.1:$FC_PORT" --data-dir "$TMP/ferrocore-data" \
        >>"$TMP/ferrocore.out" 2>>"$TMP/ferrocore.log" &
    FC_PID=$!
    for _ in $(seq 1 200); do
        grep -q "ferrocore: MQTT listening on 127.0.0.1:$FC_PORT" "$TMP/ferrocore.out" 2>/dev/null \
            && return 0
        kill -0 "$FC_PID" 2>/dev/null || break
        sleep 0.05
    done
    tail -20 "$TMP/ferrocore.log" >&2 || true
    die "Ferrocore did not start on port $FC_PORT"
}

start_mosquitto() {
    stop_pid "$MQ_PID"
    cat >"$TMP/mosquitto.conf" <<EOF
listener $MQ_PORT 127.0.0.1
allow_anonymous true
persistence false
EOF
    "$MOSQUITTO" -c "$TMP/mosquitto.conf" >>"$TMP/mosquitto.log" 2>&1 &
    MQ_PID=$!
    for _ in $(seq 1 200); do
        kill -0 "$MQ_PID" 2>/dev/null || break
        # The log says when the listener is open; no probe connection is needed.
        grep -q "Opening ipv4 listen socket on port $MQ_PORT" "$TMP/mosquitto.log" 2>/dev/null \
            && { sleep 0.1; return 0; }
        sleep 0.05
    done
    tail -20 "$TMP/mosquitto.log" >&2 || true
    die "Mosquitto did not start on port $MQ_PORT"
}

start_floor() {
    stop_pid "$FL_PID"
    "$FLOOR_BIN" "$FL_PORT" >"$TMP/floor.out" 2>>"$TMP/floor.log" &
    FL_PID=$!
    for _ in $(seq 1 200); do
        grep -q "listening on 127.0.0.1:$FL_PORT" "$TMP/floor.out" 2>/dev/null && return 0
        kill -0 "$FL_PID" 2>/dev/null || break
        sleep 0.05
    done
    die "the connect floor did not start on port $FL_PORT"
}

# --- cases ---------------------------------------------------------------------------------
# name | ferrocore-bench arguments
CASES=(
    "p2p-qos0|--scenario p2p --qos 0 --clients 16"
    "p2p-qos1|--scenario p2p --qos 1 --clients 16"
    "fanin-qos0|--scenario fanin --qos 0 --clients 64"
    "fanout-qos0|--scenario fanout --qos 0 --clients 64"
    "latency|--scenario latency --qos 0 --rate 10000"
    "persistent|--scenario persistent --clients 16 --messages 500"
)
CONNS_CASE="conns|--scenario conns --clients $CONNS"
# Ferrocore alone: durable publishing long enough (half a second or more) to be a rate, not a
# burst, for its durable / in-memory ratio (9,000 per session: under the 10,000 a session
# queues before it drops). Mosquitto is left out: with its defaults it
# queues at most 1,000 messages per offline client and drops the rest, and it runs with
# persistence off, so there is no durable rate of its to set beside this one.
FERROCORE_ONLY_CASES=(
    "persistent-sustained|--scenario persistent --clients 16 --messages 9000"
)

mkdir -p "$RESULTS_DIR"
RESULTS="$RESULTS_DIR/compare.jsonl"
: >"$RESULTS"
FAILURES=0

# run_one BROKER ROUND CASE ARGS...
run_one() {
    local broker=$1 round=$2 case=$3
    shift 3
    local port pid out rc=0
    case $broker in
        ferrocore) port=$FC_PORT pid=$FC_PID ;;
        mosquitto) port=$MQ_PORT pid=$MQ_PID ;;
        *) port=$FL_PORT pid=$FL_PID ;;
    esac
    kill -0 "$pid" 2>/dev/null || die "$broker (pid $pid) is not running before $case"
    out=$("$BENCH_BIN" --port "$port" --server-pid "$pid" --label "$broker" \
        --duration "$DURATION" --warmup "$WARMUP" "$@" 2>>"$TMP/bench.log") || rc=$?
    if [ -z "$out" ]; then
        out="{\"label\":\"$broker\",\"status\":\"failed\",\"failure\":\"ferrocore-bench exited $rc with no report\"}"
    fi
    echo "{\"case\":\"$case\",\"broker\":\"$broker\",\"round\":$round,\"exit\":$rc,${out#\{}" >>"$RESULTS"
    if [ "$rc" != 0 ]; then
        FAILURES=$((FAILURES + 1))
        log "$case on $broker (round $round) FAILED (exit $rc): $(echo "$out" | grep -o '"failure":"[^"]*"' || true)"
    fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$TMP/$broker.log" >&2 || true; die "$broker died during $case"; }
    log "$case on $broker (round $round): $(echo "$out" | grep -oE '"(msgs_per_sec|p99_us|conns_per_sec|rss_per_conn_bytes|lost)":[^,]*' | tr '\n' ' ')"
}

START=$(date +%s)
log "Ferrocore on 127.0.0.1:$FC_PORT, Mosquitto on 127.0.0.1:$MQ_PORT; $R rounds; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq 1 "$R"); do
    # Fresh brokers each round: the idle-connection memory is measured from a clean start.
    start_ferrocore
    start_mosquitto
    if [ $((round % 2)) = 1 ]; then ORDER="ferrocore mosquitto"; else ORDER="mosquitto ferrocore"; fi
    start_floor
    for spec in "$CONNS_CASE" "${CASES[@]}"; do
        name=${spec%%|*}
        read -r -a args <<<"${spec#*|}"
        for broker in $ORDER; do
            run_one "$broker" "$round" "$name" "${args[@]}"
        done
        if [ "$name" = conns ]; then
            run_one floor "$round" "$name" "${args[@]}"
            stop_pid "$FL_PID"
            FL_PID=""
        fi
    done
    for spec in "${FERROCORE_ONLY_CASES[@]}"; do
        read -r -a args <<<"${spec#*|}"
        run_one ferrocore "$round" "${spec%%|*}" "${args[@]}"
    done
done
log "done in $(( $(date +%s) - START )) s; load now: $(cut -d' ' -f1-3 /proc/loadavg)"
# Keep Ferrocore's warnings and errors (not its per-connection info lines) for the record.
sed 's/\x1b\[[0-9;]*m//g' "$TMP/ferrocore.log" | grep -E " (WARN|ERROR) " \
    >"$RESULTS_DIR/ferrocore-warnings.log" || true

MOSQ_VERSION=$("$MOSQUITTO" -h 2>/dev/null | head -1 || true)
python3 "$ROOT/bench/report.py" "$RESULTS" \
    --md "$RESULTS_DIR/compare.md" --svg "$RESULTS_DIR/compare.svg" \
    --note "R=$R, DURATION=${DURATION}s, CONNS=$CONNS, $MOSQ_VERSION"
if [ "$FAILURES" -gt 0 ]; then
    log "$FAILURES run(s) failed; see $RESULTS"
    exit 1
fi
