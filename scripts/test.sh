#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need when it is missing, skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust tests (unit + integration, media server and app)"
cargo test --workspace

# Interop tests of the media server with the real npm openvidu-node-client and openvidu-browser.
if [ -x mediaserver/tests/interop/run.sh ]; then
  echo "== media server interop (openvidu-node-client, openvidu-browser in Chromium)"
  mediaserver/tests/interop/run.sh
fi

# End-to-end tests of the app in Chromium.
if [ -x end2end/run.sh ]; then
  echo "== app end-to-end (Playwright, Chromium)"
  end2end/run.sh
fi
