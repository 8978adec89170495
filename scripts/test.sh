#!/usr/bin/env bash
# Runs every test of the project. Each step installs what its tests need when it is missing and skips
# what is present; the browser tests run in a loopback-only network namespace (root needed).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust tests (unit + integration, media server and app)"
cargo test --workspace

echo "== page weight: the release WASM within its budget"
scripts/wasm-budget.sh

echo "== media server interop (openvidu-node-client, openvidu-browser in Chromium)"
mediaserver/tests/interop/run.sh

echo "== app end-to-end (Playwright, Chromium)"
end2end/run.sh

# Each suite stops this script on its first failure, so reaching here means all four passed.
echo "suites: 4 passed, 0 failed"
