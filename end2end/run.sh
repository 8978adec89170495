#!/usr/bin/env bash
# The app's end-to-end tests: installs what is missing (Chromium, nftables, npm packages, WASM tools),
# builds the app, then runs Playwright inside a network namespace that has only `lo`, so that Chromium's
# only ICE candidate, like the server's, is 127.0.0.1. Needs root (CI is root).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ -x scripts/setup-browser.sh ]; then
    scripts/setup-browser.sh
  else
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  fi
fi
# tests/network.spec.ts cuts one browser's network with netfilter rules inside the namespace.
if ! command -v nft >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nftables \
    || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nftables; }
fi
scripts/build-app.sh

echo "== end2end: Playwright in a loopback-only network namespace"
exec unshare -n bash -c 'ip link set lo up && cd end2end && npx playwright test "$@"' bash "$@"
