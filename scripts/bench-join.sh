#!/usr/bin/env bash
# The join benchmark (issue 6): time from clicking Join to one's own video playing and to the first
# remote video playing, p50/p95 over 20 joins (JOINS=n for another count), release build, in Chromium
# with the fake camera, inside a network namespace that has only `lo`. Writes target/bench/join.json.
# Not part of CI. Needs root (unshare -n); builds the release app first (many minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
  echo "bench-join.sh: run as root: it needs a loopback-only network namespace (unshare -n)" >&2
  exit 1
fi
[ -x /usr/bin/chromium ] || scripts/setup-browser.sh
scripts/build-app.sh --release
mkdir -p target/bench
export APP_SERVER=$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/server BENCH_OUT=$PWD/target/bench/join.json JOINS=${JOINS:-20}
unshare -n bash -c 'ip link set lo up && cd end2end && npx playwright test --config bench.config.ts'
echo "bench-join: figures in target/bench/join.json"
