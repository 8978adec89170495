#!/usr/bin/env bash
# Builds the app as cargo-leptos would, without needing cargo-leptos: the WASM (wasm-bindgen, and
# wasm-opt for release), the CSS and the openvidu-browser bundle into target/site under content-hashed
# names listed in target/site/assets.json, then the server.
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
# wasm-bindgen's output before it is named, outside the served site.
stage=target/app-pkg/$profile
echo "build-app: WASM ($profile)"
. scripts/wasm.sh
build_wasm "$profile" "$stage"
mkdir -p "$site/pkg" "$site/js"

# Content-hashed names, cached for good by browsers (server/src/assets.rs); the page links them from
# assets.json. The JS loader and its WASM share one hash (the page passes the WASM's URL to the loader,
# so the loader's own default name does not matter).
hash() { cat "$@" | sha256sum | cut -c1-16; }
name=app.$(hash "$stage/app.js" "$stage/app_bg.wasm")
css=pkg/app.$(hash style/main.css).css
openvidu=js/openvidu-browser.$(hash public/js/openvidu-browser.min.js).min.js
cp "$stage/app.js" "$site/pkg/$name.js"
cp "$stage/app_bg.wasm" "$site/pkg/${name}_bg.wasm"
cp style/main.css "$site/$css"
cp public/js/openvidu-browser.min.js "$site/$openvidu"

# Hashed files of older builds go, except the previous build's: a server started before this build
# still links those.
keep=$( { echo "$name $css $openvidu"; cat "$site/assets.json" 2>/dev/null || true; } | grep -o '[0-9a-f]\{16\}' | sort -u)
for f in "$site"/pkg/app.* "$site"/js/openvidu-browser.*.min.js; do
  [ -e "$f" ] || continue
  h=$(basename "$f" | grep -o '\.[0-9a-f]\{16\}[._]' | head -n1 | tr -d '._' || true)
  if [ -n "$h" ] && ! grep -qx "$h" <<<"$keep"; then rm -f "$f"; fi
done
printf '{\n  "output_name": "%s",\n  "css": "%s",\n  "openvidu": "%s"\n}\n' "$name" "$css" "$openvidu" \
  > "$site/assets.json.tmp"
mv "$site/assets.json.tmp" "$site/assets.json"
if [ "$profile" = release ]; then
  echo "build-app: $site/pkg/${name}_bg.wasm is $(gzip -9 -c "$site/pkg/${name}_bg.wasm" | wc -c) bytes gzipped"
fi

echo "build-app: server ($profile)"
cargo build -p server "${cargo_profile[@]}"
echo "build-app: done; the site is in $site, the server is ${CARGO_TARGET_DIR:-target}/$profile/server"
