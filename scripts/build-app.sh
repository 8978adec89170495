#!/usr/bin/env bash
# Builds the app as cargo-leptos would, without needing cargo-leptos: the WASM (wasm-bindgen, and
# wasm-opt for release), the CSS and the openvidu-browser bundle into target/site, then the server.
#   scripts/build-app.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
cargo_profile=()
for arg in "$@"; do
  case "$arg" in
    --release) profile=release; cargo_profile=(--release) ;;
    *) echo "usage: $0 [--release]" >&2; exit 2 ;;
  esac
done

scripts/setup-leptos.sh

site=target/site
echo "build-app: WASM ($profile)"
if [ "$profile" = release ]; then
  # The wasm-release profile (Cargo.toml): optimised for size, the server's release build is not.
  cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
  wasm=target/wasm32-unknown-unknown/wasm-release/frontend.wasm
else
  cargo build -p frontend --lib --target wasm32-unknown-unknown
  wasm=target/wasm32-unknown-unknown/debug/frontend.wasm
fi
mkdir -p "$site/pkg" "$site/js"
wasm-bindgen --target web --no-typescript --out-dir "$site/pkg" --out-name app "$wasm"
if [ "$profile" = release ]; then
  frontend/node_modules/.bin/wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$site/pkg/app_bg.wasm" -o "$site/pkg/app_bg.wasm"
fi
cp style/main.css "$site/pkg/app.css"
cp public/js/openvidu-browser.min.js "$site/js/openvidu-browser.min.js"
if [ "$profile" = release ]; then
  echo "build-app: $site/pkg/app_bg.wasm is $(gzip -9 -c "$site/pkg/app_bg.wasm" | wc -c) bytes gzipped"
fi

echo "build-app: server ($profile)"
cargo build -p server "${cargo_profile[@]}"
echo "build-app: done; the site is in $site, the server is target/$profile/server"
