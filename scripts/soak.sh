#!/usr/bin/env bash
# Soak benchmark (not part of CI): participants join, publish, subscribe and leave against one media
# server process for SOAK_SECONDS (default 600), in rounds of the load client (loadtest/). The server's
# RSS, threads, open file descriptors and its own `stats` log line (tokio tasks included) are recorded
# once it is idle after a warm-up round and once it is idle after the soak; nothing may have grown.
# Writes target/bench/soak.json and prints it.
#
#   scripts/soak.sh                  10 minutes
#   SOAK_SECONDS=120 scripts/soak.sh a short run
#   SOAK_BIN=dir scripts/soak.sh    binaries already built elsewhere (mediaserver, loadtest)
#   MALLOC_ARENA_MAX=2 scripts/soak.sh   glibc's allocator with 2 arenas (the environment reaches the server)
#
# Besides the two idle samples, the RSS after every round goes into `rss_kb_after_round`, to tell a
# plateau (allocator arenas and caches filling once) from a leak (growth with every round).
#
# Needs root (a loopback-only network namespace, `unshare -n`); builds in release first.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/target/bench
SOAK_SECONDS=${SOAK_SECONDS:-600}

if [[ "${SOAK_IN_NAMESPACE:-}" != 1 ]]; then
    if [[ $(id -u) != 0 ]]; then
        echo "soak.sh: run as root: it needs a loopback-only network namespace (unshare -n)" >&2
        exit 1
    fi
    missing=()
    command -v jq >/dev/null || missing+=(jq)
    command -v ip >/dev/null || missing+=(iproute2)
    if ((${#missing[@]})); then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
    if [[ -z "${SOAK_BIN:-}" ]]; then
        echo "== building (release): mediaserver, loadtest"
        cargo build --release -p mediaserver -p loadtest
    fi
    mkdir -p "$OUT"
    export SOAK_IN_NAMESPACE=1
    exec unshare -n bash -c 'ip link set lo up && exec "$0" "$@"' "$ROOT/scripts/soak.sh" "$@"
fi

# ---- inside the namespace -------------------------------------------------------------------------
[[ $(ip -o link show | wc -l) == 1 ]] || { echo "soak.sh: the namespace must have only lo" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true
BIN=${SOAK_BIN:-$(realpath -m "${CARGO_TARGET_DIR:-target}")/release}
LOG=$OUT/soak-server.log
SECRET="soak-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
OPENVIDU_SECRET=$SECRET RUST_LOG=info "$BIN/mediaserver" --listen 127.0.0.1:4443 --udp 127.0.0.1:0 >"$LOG" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
end=$((SECONDS + 20))
until (exec 3<>/dev/tcp/127.0.0.1/4443) 2>/dev/null; do
    ((SECONDS < end)) || { echo "soak.sh: the server did not start; see $LOG" >&2; exit 1; }
    sleep 0.2 # polling interval
done

round() { # scenario window
    OPENVIDU_SECRET=$SECRET "$BIN/loadtest" --server ours --url 127.0.0.1:4443 --scenario "$1" --window "$2" \
        --warmup 1 --ramp-timeout 60 --server-pid "$PID" --json "$OUT/soak-round.json" >/dev/null 2>&1 || true
    jq -c '{scenario, pass, receiving_streams, loss_pct, delay_p95_ms}' "$OUT/soak-round.json" 2>/dev/null || echo '{}'
}

# The server logs its stats every 30 s when they changed; idle is the line with nothing held, logged
# after the last round ended (so at least one logging period later).
wait_idle() {
    sleep 31 # one logging period of the server, so that its last line is about now
    local end=$((SECONDS + 90)) line
    while ((SECONDS < end)); do
        line=$(grep ' stats ' "$LOG" | tail -n 1 || true)
        if [[ $line == *"sessions=0 participants=0 peers=0 sockets=0 addresses=0"* ]]; then
            echo "$line"
            return 0
        fi
        sleep 1 # polling interval
    done
    echo "soak.sh: the server did not become idle within 90 s: ${line:-no stats line}" >&2
    return 1
}

sample() { # label idle-line -> JSON
    jq -n --arg name "$1" --arg stats "$2" \
        --argjson rss "$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)" \
        --argjson threads "$(awk '/^Threads/ {print $2}' /proc/$PID/status)" \
        --argjson fds "$(ls /proc/$PID/fd | wc -l)" \
        '{"label": $name, rss_kb: $rss, threads: $threads, open_fds: $fds,
          stats: ($stats | capture("sessions=(?<sessions>[0-9]+) participants=(?<participants>[0-9]+) peers=(?<peers>[0-9]+) sockets=(?<sockets>[0-9]+) addresses=(?<addresses>[0-9]+) dropped_datagrams=(?<dropped_datagrams>[0-9]+) tasks=(?<tasks>[0-9]+)") // {})}'
}

echo "== warm-up round"
round "sessions:3x4" 10
start=$(sample start "$(wait_idle)")
echo "$start"

SCENARIOS=("sessions:3x4" "meeting:6" "broadcast:12" "sessions:6x2")
rounds=0
rss_series=()
began=$SECONDS
max_rounds=$((SOAK_SECONDS / 5 + 1)) # bounded, whatever the rounds take
while ((SECONDS - began < SOAK_SECONDS && rounds < max_rounds)); do
    scenario=${SCENARIOS[$((rounds % ${#SCENARIOS[@]}))]}
    echo "== round $((rounds + 1)) at $((SECONDS - began)) s: $scenario $(round "$scenario" 10)"
    rounds=$((rounds + 1))
    rss_series+=("$(awk '/^VmRSS/ {print $2}' /proc/$PID/status)")
done

finish=$(sample end "$(wait_idle)")
echo "$finish"
jq -n --argjson first "$start" --argjson last "$finish" --argjson rounds "$rounds" \
    --argjson seconds "$((SECONDS - began))" --argjson series "[$(IFS=,; echo "${rss_series[*]}")]" \
    --arg malloc_arena_max "${MALLOC_ARENA_MAX:-}" --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    '{seconds: $seconds, rounds: $rounds, cpu: $cpu, malloc_arena_max: $malloc_arena_max, "start": $first, "end": $last,
      rss_kb_after_round: $series,
      rss_growth_kb: ($last.rss_kb - $first.rss_kb), threads_growth: ($last.threads - $first.threads),
      fds_growth: ($last.open_fds - $first.open_fds)}' | tee "$OUT/soak.json"
