#!/usr/bin/env bash
# Interop tests of the media server with the real npm openvidu-node-client and openvidu-browser
# (2.22.0 and 2.32.2), the browser ones in Debian's headless Chromium with a fake camera.
#
#   mediaserver/tests/interop/run.sh                 # everything
#   mediaserver/tests/interop/run.sh tests/rest.test.js   # some test files (paths relative to this dir)
#   INTEROP_BROWSER_VERSIONS=2.32.2 mediaserver/tests/interop/run.sh tests/browser.test.js
#
# Installs and builds first (setup-browser.sh, cargo build), then runs the tests inside a network
# namespace that has only loopback (`unshare -n`, needs root), so that Chromium offers no ICE
# candidate but 127.0.0.1 and no traffic leaves the machine. INTEROP_NO_NETNS=1 skips the namespace
# (then Chromium may also offer its LAN address; only for debugging).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$root"

"$root/scripts/setup-browser.sh"

echo "== cargo build -p mediaserver --bin mediaserver"
cargo build -p mediaserver --bin mediaserver
target_dir="$(cargo metadata --no-deps --format-version 1 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
export MEDIASERVER_BIN="$target_dir/debug/mediaserver"
[ -x "$MEDIASERVER_BIN" ] || { echo "no binary at $MEDIASERVER_BIN" >&2; exit 1; }

files=("$@")
if [ "${#files[@]}" -eq 0 ]; then
  files=()
  for f in "$here"/tests/*.test.js; do files+=("tests/$(basename "$f")"); done
fi

# One test file at a time: each starts its own servers and at most 4 Chromium pages (2 cores).
cmd=(node --test --test-concurrency=1 --test-reporter=spec --test-timeout=600000 "${files[@]}")
quoted="$(printf '%q ' "${cmd[@]}")"

cd "$here"
if [ "${INTEROP_NO_NETNS:-0}" = 1 ]; then
  echo "== running WITHOUT a network namespace (INTEROP_NO_NETNS=1)"
  exec "${cmd[@]}"
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: the loopback-only network namespace needs root (unshare -n); set INTEROP_NO_NETNS=1 to run without it" >&2
  exit 1
fi
echo "== running in a loopback-only network namespace: ${quoted}"
exec unshare -n bash -c "ip link set lo up && exec ${quoted}"
