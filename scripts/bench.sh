#!/usr/bin/env bash
# Benchmarks our media server against Janus (Debian's `janus`, VideoRoom plugin) with the same synthetic
# load (loadtest/), inside a network namespace that has only `lo`. Writes target/bench/report.json and
# prints the table. Not part of CI.
#
#   scripts/bench.sh           full run: 30 s measurement windows, load stepped up to what each carries
#   scripts/bench.sh --quick   the same in under 5 minutes on 2 cores (8 s windows, fewer steps)
#
# Needs root (for `unshare -n`). Installs janus, jq, iproute2 and column when missing and builds in release mode
# before entering the namespace (no registry is reachable inside it).
#
# Each server gets a time budget for its load steps (80 s quick, 700 s full); a step that would start
# past it is not run.
#
# "Streams per core" = forwarded video streams / server CPU in cores, (utime + stime) / wall time from
# /proc/<pid>/stat over the window, at the highest load step where loss < 1 % and p95 forwarding delay
# < 50 ms (loadtest's verdict); the load steps up in meetings of 4 (12 streams each) until two steps in
# a row fail, and the highest passing step is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench

QUICK=0
for arg in "$@"; do
    case "$arg" in
        --quick) QUICK=1 ;;
        -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument $arg (use --quick or nothing)" >&2; exit 2 ;;
    esac
done

if [[ "${BENCH_IN_NAMESPACE:-}" != 1 ]]; then
    if [[ $(id -u) != 0 ]]; then
        echo "bench.sh: run as root: it needs a loopback-only network namespace (unshare -n)" >&2
        exit 1
    fi
    missing=()
    command -v janus >/dev/null || missing+=(janus)
    command -v jq >/dev/null || missing+=(jq)
    command -v ip >/dev/null || missing+=(iproute2)
    command -v column >/dev/null || missing+=(bsdextrautils)
    command -v cc >/dev/null || missing+=(gcc libc6-dev)
    if ((${#missing[@]})); then
        echo "== installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    echo "== building (release): mediaserver, loadtest, server (the app, for its get-token rate)"
    cargo build --release -p mediaserver -p loadtest -p server
    mkdir -p "$OUT"
    cc -shared -fPIC -O2 -Wall -o "$OUT/noloopback.so" scripts/bench-noloopback.c -ldl
    echo "== entering a loopback-only network namespace"
    export BENCH_IN_NAMESPACE=1
    exec unshare -n bash -c 'ip link set lo up && exec "$0" "$@"' "$ROOT/scripts/bench.sh" "$@"
fi

# ---- inside the namespace -------------------------------------------------------------------------
links=$(ip -o link show | wc -l)
if [[ $links != 1 ]]; then
    echo "bench.sh: the namespace has $links interfaces, expected only lo" >&2
    exit 1
fi

# Each synthetic peer connection has its own UDP socket; the biggest steps need a few thousand.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

# Cargo's binaries; the reports stay in target/bench.
BIN=$(realpath -m "${CARGO_TARGET_DIR:-target}")/release
LOADTEST=$BIN/loadtest
if ((QUICK)); then
    WINDOW=8 WARMUP=2 RAMP=20 BUDGET=80 STEPS=(2 4 8 12 16) BROADCAST=16 REST_COUNT=300 TOKEN_COUNT=300
else
    WINDOW=30 WARMUP=3 RAMP=60 BUDGET=700 STEPS=(1 2 4 8 12 16 24 32 48 64) BROADCAST=50 REST_COUNT=2000 TOKEN_COUNT=2000
fi
rm -f "$OUT"/ours-*.json "$OUT"/janus-*.json "$OUT/report.json"
TMP=$(mktemp -d)
SERVER_PID=

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap 'stop_server; rm -rf "$TMP"' EXIT

wait_port() { # host port seconds
    local end=$((SECONDS + $3))
    until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
        if ((SECONDS >= end)); then
            echo "bench.sh: nothing listens on $1:$2 after $3 s" >&2
            return 1
        fi
        sleep 0.2 # polling interval
    done
}

SECRET="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
start_ours() {
    OPENVIDU_SECRET=$SECRET RUST_LOG=warn "$BIN/mediaserver" --listen 127.0.0.1:4443 --udp 127.0.0.1:0 \
        >"$OUT/ours-server.log" 2>&1 &
    SERVER_PID=$!
    wait_port 127.0.0.1 4443 20
}

write_janus_config() {
    local lib=/usr/lib/x86_64-linux-gnu/janus
    [[ -d $lib ]] || lib=$(dirname "$(dpkg -L janus | grep -m1 '/plugins/libjanus_videoroom.so$')")/..
    local plugins transports loggers
    plugins=$(cd "$lib/plugins" && ls libjanus_*.so | grep -v '^libjanus_videoroom.so$' | paste -sd, -)
    transports=$(cd "$lib/transports" && ls libjanus_*.so | grep -v '^libjanus_websockets.so$' | paste -sd, -)
    loggers=$(cd "$lib/loggers" && ls libjanus_*.so | paste -sd, -)
    cat >"$TMP/janus.jcfg" <<EOF
general: {
	configs_folder = "$TMP"
	plugins_folder = "$lib/plugins"
	transports_folder = "$lib/transports"
	events_folder = "$lib/events"
	loggers_folder = "$lib/loggers"
	debug_level = 2
	session_timeout = 60
}
media: {
	rtp_port_range = "20000-60000"
}
nat: {
	nice_debug = false
	ice_enforce_list = "lo"
	full_trickle = false
}
plugins: {
	disable = "$plugins"
}
transports: {
	disable = "$transports"
}
events: {
	broadcast = false
}
loggers: {
	disable = "$loggers"
}
EOF
    cat >"$TMP/janus.plugin.videoroom.jcfg" <<EOF
general: {
}
EOF
    cat >"$TMP/janus.transport.websockets.jcfg" <<EOF
general: {
	json = "compact"
	ws = true
	ws_port = 8188
	ws_ip = "127.0.0.1"
	wss = false
}
admin: {
	admin_ws = false
}
EOF
}

start_janus() {
    LD_PRELOAD=$OUT/noloopback.so janus -C "$TMP/janus.jcfg" -F "$TMP" >"$OUT/janus-server.log" 2>&1 &
    SERVER_PID=$!
    wait_port 127.0.0.1 8188 20
}

# The app's get-token rate: the app server (embedded media server, its own SQLite file in $TMP) with
# APP_USERS users of one password, a quota high enough not to be what is measured, and no site (the
# server functions need none). A failure here is reported and the run goes on without this figure.
APP_USERS=8
APP_PASSWORD="bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
bench_app_tokens() {
    local users=() i
    for ((i = 1; i <= APP_USERS; i++)); do
        users+=("bench$i")
        if ! printf '%s\n' "$APP_PASSWORD" | "$BIN/server" user add "bench$i" --data-dir "$TMP/app" >/dev/null; then
            echo "== the app: could not add the user bench$i; no get-token figure" >&2
            return
        fi
    done
    RUST_LOG=warn "$BIN/server" --data-dir "$TMP/app" --site-root "$TMP/no-site" --no-demo \
        --listen 127.0.0.1:5000 --tokens-per-minute 10000 >"$OUT/app-server.log" 2>&1 &
    SERVER_PID=$!
    if wait_port 127.0.0.1 5000 20; then
        APP_PASSWORD=$APP_PASSWORD "$LOADTEST" --app-token-rate "$TOKEN_COUNT" --app-url 127.0.0.1:5000 \
            --app-users "$(IFS=,; echo "${users[*]}")" --json "$OUT/ours-app-tokens.json" || true
    else
        echo "== the app did not start; see $OUT/app-server.log; no get-token figure" >&2
    fi
    stop_server
}

target_args() { # server
    case "$1" in
        ours) echo "--server ours --url 127.0.0.1:4443" ;;
        janus) echo "--server janus --url ws://127.0.0.1:8188" ;;
    esac
}

run_step() { # server name scenario -> 0 if it passed
    local server=$1 name=$2 scenario=$3
    "start_$server"
    # shellcheck disable=SC2046
    OPENVIDU_SECRET=$SECRET "$LOADTEST" $(target_args "$server") --scenario "$scenario" --window "$WINDOW" \
        --warmup "$WARMUP" --ramp-timeout "$RAMP" --server-pid "$SERVER_PID" --json "$OUT/$server-$name.json" ||
        echo "{\"scenario\":\"$scenario\",\"pass\":false,\"verdict\":\"the load client failed\"}" >"$OUT/$server-$name.json"
    stop_server
    [[ $(jq -r .pass "$OUT/$server-$name.json") == true ]]
}

bench_server() { # server
    local server=$1 m best= started
    started=$(date +%s)
    if [[ $server == ours ]]; then
        echo "== $server: REST connection creation"
        start_ours
        OPENVIDU_SECRET=$SECRET "$LOADTEST" --server ours --url 127.0.0.1:4443 --rest-rate "$REST_COUNT" \
            --json "$OUT/ours-rest.json" || true
        stop_server
        echo "== the app: get-token ($APP_USERS users at once)"
        bench_app_tokens
    fi
    local failures=0
    for m in "${STEPS[@]}"; do
        if (($(date +%s) - started > BUDGET)); then
            echo "== $server: time budget spent, no more steps"
            break
        fi
        echo "== $server: step sessions:${m}x4 ($((m * 12)) video streams)"
        if run_step "$server" "step-$m" "sessions:${m}x4"; then
            best=$m failures=0
        else
            echo "== $server: sessions:${m}x4 did not pass: $(jq -r .verdict "$OUT/$server-step-$m.json")"
            # One failed step may be a passing disturbance on a shared machine; two in a row end it.
            failures=$((failures + 1))
            ((failures < 2)) || break
        fi
    done
    echo "${best:-}" >"$OUT/$server-best"
    echo "== $server: broadcast:$BROADCAST"
    run_step "$server" broadcast "broadcast:$BROADCAST" || true
}

bench_server ours
if write_janus_config && start_janus; then
    stop_server
    bench_server janus
else
    stop_server
    echo "== janus did not start; see $OUT/janus-server.log" >&2
    echo "" >"$OUT/janus-best"
fi

# ---- the report -------------------------------------------------------------------------------------
# A rate counts only if none of its requests failed and all it asked for were made (a time limit can cut
# it short): its `per_second`, else null, which the table shows as n/a (the JSON file keeps the details).
complete_rate() { # file count-field count
    if [[ -f $1 ]]; then
        jq --argjson n "$3" "if .failed == 0 and .$2 >= \$n then .per_second else null end" "$1"
    else
        echo null
    fi
}
summary() { # server -> JSON object of its figures
    local server=$1 best step
    best=$(cat "$OUT/$server-best" 2>/dev/null || true)
    step=$OUT/$server-step-${best:-1}.json
    [[ -f $step ]] || { echo '{"streams_per_core":null,"first_frame_p50_ms":null,"passed":false}'; return; }
    local rest tokens steps broadcast=null
    rest=$(complete_rate "$OUT/$server-rest.json" connections "$REST_COUNT")
    tokens=$(complete_rate "$OUT/$server-app-tokens.json" tokens "$TOKEN_COUNT")
    [[ -f $OUT/$server-broadcast.json ]] && broadcast=$(cat "$OUT/$server-broadcast.json")
    steps=$(jq -s '[.[] | {scenario, expected_streams, receiving_streams, pass, verdict, streams_per_core,
        server_cpu_cores, loss_pct, delay_p95_ms, first_frame_p50_ms, client_cpu_cores}]' \
        $(ls "$OUT/$server"-step-*.json | sort -V))
    jq --argjson passed "$([[ -n $best ]] && echo true || echo false)" --argjson rest "$rest" --argjson tokens "$tokens" \
        --argjson steps "$steps" --argjson broadcast "$broadcast" '{
        best_step: .scenario, passed: $passed, streams: .receiving_streams,
        streams_per_core, server_cpu_cores, server_cpu_pct_per_stream,
        first_frame_p50_ms, first_frame_p95_ms, rss_kb_per_participant, server_rss_kb,
        loss_pct, packet_loss_pct, delay_p50_ms, delay_p95_ms, client_cpu_cores, client_cpu_pct_per_stream,
        rest_connections_per_s: $rest, app_get_token_per_s: $tokens,
        broadcast: ($broadcast | if . == null then null else {scenario, pass, verdict, first_frame_p50_ms,
            first_frame_p95_ms, delay_p95_ms, loss_pct, streams_per_core} end),
        steps: $steps }' "$step"
}
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
load=$(cut -d' ' -f1-3 /proc/loadavg)
jq -n --argjson ours "$(summary ours)" --argjson janus "$(summary janus)" --arg cpu "$cpu_model" \
    --arg nproc "$(nproc)" --arg load "$load" --argjson quick "$QUICK" --argjson window "$WINDOW" \
    --arg janus_version "$(dpkg-query -W -f '${Version}' janus 2>/dev/null || echo unknown)" '{
    machine: { nproc: ($nproc | tonumber), cpu: $cpu, loadavg_at_end: $load },
    quick: ($quick == 1), window_s: $window, janus_version: $janus_version,
    criteria: "loss < 1 %, p95 forwarding delay < 50 ms, every stream received",
    ours: $ours, janus: $janus }' >"$OUT/report.json"

echo
echo "== target/bench/report.json ($(nproc) cores, $cpu_model, load average $load)"
jq -r '
    def f: if . == null then "n/a" elif type == "number" then (. * 100 | round / 100 | tostring) else tostring end;
    def ratio(a; b): if a == null or b == null or b == 0 then "n/a" else (a / b * 100 | round / 100 | tostring) + "x" end;
    ["figure", "ours", "janus", "ours/janus"],
    (["streams_per_core", "first_frame_p50_ms", "first_frame_p95_ms", "rss_kb_per_participant",
      "loss_pct", "delay_p50_ms", "delay_p95_ms", "server_cpu_pct_per_stream", "client_cpu_pct_per_stream",
      "rest_connections_per_s", "app_get_token_per_s"][] as $k
     | [$k, (.ours[$k] | f), (.janus[$k] | f), ratio(.ours[$k]; .janus[$k])]),
    ["best_step", (.ours.best_step | f), (.janus.best_step | f), ""],
    ["best_step_passed", (.ours.passed | f), (.janus.passed | f), ""]
    | @tsv' "$OUT/report.json" | column -t -s $'\t'
