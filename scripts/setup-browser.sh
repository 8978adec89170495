#!/usr/bin/env bash
# Installs what the browser interop tests need, skipping whatever is already present:
#   - Debian's chromium (/usr/bin/chromium) and iproute2 (`ip`, for the loopback-only namespace);
#   - the npm packages of mediaserver/tests/interop (openvidu-node-client, openvidu-browser,
#     playwright-core), by `npm ci` from the committed package-lock.json. Playwright never downloads
#     a browser: the tests use Debian's Chromium.
# Idempotent: a second run does nothing but checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup-browser: $*"; }

# Waits while another apt/dpkg (e.g. an install started in the background) holds the lock.
wait_for_dpkg() {
  local waited=0
  while fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1 \
     || pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null; do
    if [ "$waited" -eq 0 ]; then log "waiting for another apt/dpkg run to finish"; fi
    sleep 5
    waited=$((waited + 5))
    if [ "$waited" -ge 1800 ]; then log "apt/dpkg still busy after 30 min"; return 1; fi
  done
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  wait_for_dpkg
  # Re-check: the run we waited for may have installed them.
  still=()
  for p in "${missing[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || still+=("$p"); done
  if [ "${#still[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y --no-install-recommends "${still[@]}"; then
      log "apt-get install failed; updating package lists and retrying"
      $SUDO apt-get update
      $SUDO apt-get install -y --no-install-recommends "${still[@]}"
    fi
  fi
fi
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"

# npm packages: `npm ci` when node_modules is missing or older than the lock file.
dir=mediaserver/tests/interop
stamp="$dir/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ]; then
  log "npm ci in $dir"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
else
  log "node_modules of $dir is up to date"
fi
