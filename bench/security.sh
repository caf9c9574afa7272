#!/usr/bin/env bash
# The price of security in Ferrocore, with ferrocore-bench: TLS handshakes per second with
# device certificates, and publish throughput under a realistic IoT policy against none.
#
# Builds the release binaries, then R times, alternating the order:
#   - conns over TLS: CONNS clients connect to the MQTT over TLS listener, each a full TLS 1.3
#     handshake with a client certificate made by CreateKeysAndCertificate (called with curl's
#     SigV4 signing), checked against the registry and authorized by its policy;
#   - p2p QoS 0 and QoS 1 on the plain listener, once with no policy (nothing is evaluated)
#     and once with a two-statement policy with ${iot:ClientId} variables (mqtt_policy_file):
#     every CONNECT, SUBSCRIBE, PUBLISH and delivery is decided (decisions cached per
#     connection).
# Prints the median of each and the ratio policy/no policy; writes bench/results/security.md.
#
# Environment: R (default 3), DURATION (default 5), CONNS (default 2000), SKIP_BUILD=1,
# FERROCORE_BIN, BENCH_BIN, RESULTS_DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
R=${R:-3}
DURATION=${DURATION:-5}
CONNS=${CONNS:-2000}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
FERROCORE_BIN=${FERROCORE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferrocore}
BENCH_BIN=${BENCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ferrocore-bench}
KEY_ID=AKIABENCHSECURITYKEY
SECRET=bench/security/secret
REGION=us-east-1
ARN="arn:aws:iot:$REGION:000000000000"

die() { echo "security.sh: $*" >&2; exit 1; }
log() { echo "security.sh: $*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release -p ferrocore-server -p ferrocore-bench) \
        || die "cargo build failed"
fi
ulimit -n "$(ulimit -Hn)" || true

TMP=$(mktemp -d /tmp/ferrocore-security.XXXXXX)
PID=""
stop() {
    [ -n "$PID" ] || return 0
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}
trap 'stop; rm -rf "$TMP"' EXIT
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts Ferrocore on fresh ports; extra flags/env as arguments (VAR=value ...).
start() {
    stop
    rm -rf "$TMP/data" "$TMP/out"
    MQTT_PORT=$(free_port); MQTTS_PORT=$(free_port); API_PORT=$(free_port)
    env FERROCORE_ROOT_ACCESS_KEY_ID=$KEY_ID FERROCORE_ROOT_SECRET_ACCESS_KEY=$SECRET \
        FERROCORE_BROKER_MAX_PUBLISHES_PER_SECOND=0 FERROCORE_HTTPS_ADDR=off "$@" \
        "$FERROCORE_BIN" serve --data-dir "$TMP/data" --log warn \
        --mqtt-addr "127.0.0.1:$MQTT_PORT" --mqtts-addr "127.0.0.1:$MQTTS_PORT" \
        --api-addr "127.0.0.1:$API_PORT" >"$TMP/out" 2>>"$TMP/log" &
    PID=$!
    for _ in $(seq 1 100); do
        grep -q "API listening" "$TMP/out" 2>/dev/null && return 0
        sleep 0.1
    done
    die "Ferrocore did not start (see $TMP/log)"
}

# One control-plane call, signed with SigV4 by curl.
iot() { # METHOD PATH BODY
    curl -sS --fail-with-body --aws-sigv4 "aws:amz:$REGION:iot" --user "$KEY_ID:$SECRET" \
        -X "$1" -H 'content-type: application/json' --data "$3" "http://127.0.0.1:$API_PORT$2"
}

provision_device() {
    iot POST "/keys-and-certificate?setAsActive=true" '{}' >"$TMP/device.json"
    python3 - "$TMP" <<'PY'
import json, sys
d = json.load(open(sys.argv[1] + "/device.json"))
open(sys.argv[1] + "/device.pem", "w").write(d["certificatePem"])
open(sys.argv[1] + "/device.key", "w").write(d["keyPair"]["PrivateKey"])
open(sys.argv[1] + "/device.arn", "w").write(d["certificateArn"])
PY
    local doc
    doc=$(python3 -c "import json; print(json.dumps({'policyDocument': json.dumps({'Version': '2012-10-17', 'Statement': [
        {'Effect': 'Allow', 'Action': 'iot:Connect', 'Resource': '$ARN:client/\${iot:ClientId}'},
        {'Effect': 'Allow', 'Action': ['iot:Publish', 'iot:Subscribe', 'iot:Receive'], 'Resource': ['$ARN:topic/bench/*', '$ARN:topicfilter/bench/*', '$ARN:topic/\${iot:ClientId}/*']}]})}))")
    iot POST /policies/bench "$doc" >/dev/null
    iot PUT "/target-policies/bench" "{\"target\": \"$(cat "$TMP/device.arn")\"}" >/dev/null
}

# The realistic policy of the plain listener: two statements with variables.
cat >"$TMP/policy.json" <<JSON
{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": "iot:Connect", "Resource": "$ARN:client/\${iot:ClientId}"},
  {"Effect": "Allow", "Action": ["iot:Publish", "iot:Subscribe", "iot:Receive"],
   "Resource": ["$ARN:topic/bench/*", "$ARN:topicfilter/bench/*", "$ARN:topic/\${iot:ClientId}/*"]}
]}
JSON

mkdir -p "$RESULTS_DIR"
JSONL="$RESULTS_DIR/security.jsonl"
: >"$JSONL"
run() { # CASE ARGS...
    local case=$1; shift
    "$BENCH_BIN" --server-pid "$PID" --label "$case" "$@" | tee -a "$JSONL" >/dev/null \
        || die "bench failed for $case"
}

for round in $(seq 1 "$R"); do
    log "round $round/$R"
    start
    provision_device
    run tls-conns --scenario conns --port "$MQTTS_PORT" --clients "$CONNS" \
        --tls-ca "$TMP/data/ca.pem" --tls-cert "$TMP/device.pem" --tls-key "$TMP/device.key" \
        --tls-server-name localhost
    run tls-p2p-qos0 --scenario p2p --port "$MQTTS_PORT" --duration "$DURATION" \
        --tls-ca "$TMP/data/ca.pem" --tls-cert "$TMP/device.pem" --tls-key "$TMP/device.key" \
        --tls-server-name localhost
    for qos in 0 1; do
        if [ $((round % 2)) = 1 ]; then order="none policy"; else order="policy none"; fi
        for variant in $order; do
            if [ "$variant" = policy ]; then
                start FERROCORE_MQTT_POLICY_FILE="$TMP/policy.json"
            else
                start
            fi
            run "p2p-qos$qos-$variant" --scenario p2p --qos "$qos" --port "$MQTT_PORT" \
                --duration "$DURATION"
        done
    done
done
stop

python3 - "$JSONL" "$RESULTS_DIR/security.md" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault(r["label"], []).append(r)
def med(label, key):
    vals = [r[key] for r in runs.get(label, []) if key in r]
    return statistics.median(vals) if vals else float("nan")
rows = ["| case | median | unit |", "| --- | --- | --- |"]
rows.append(f"| TLS connects (handshake + CONNECT + policy) | {med('tls-conns', 'conns_per_sec'):,.0f} | per s |")
rows.append(f"| p2p QoS 0 over TLS | {med('tls-p2p-qos0', 'msgs_per_sec'):,.0f} | msgs/s |")
for qos in (0, 1):
    none, pol = med(f"p2p-qos{qos}-none", "msgs_per_sec"), med(f"p2p-qos{qos}-policy", "msgs_per_sec")
    rows.append(f"| p2p QoS {qos}, no policy | {none:,.0f} | msgs/s |")
    rows.append(f"| p2p QoS {qos}, two-statement policy with variables | {pol:,.0f} ({pol / none:.2f}x) | msgs/s |")
table = "\n".join(rows)
open(sys.argv[2], "w").write(table + "\n")
print(table)
PY
