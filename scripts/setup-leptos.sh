#!/usr/bin/env bash
# Installs what building the app needs, skipping what is present:
#   the wasm32 target, wasm-bindgen-cli at exactly the version in Cargo.lock, the npm packages of
#   frontend/ (openvidu-browser, binaryen's wasm-opt) and end2end/ (Playwright), and the
#   openvidu-browser bundle copied to public/js (for cargo-leptos; never committed).
# With --cargo-leptos it also builds cargo-leptos (for `cargo leptos watch`; about 15 minutes on two
# idle cores, 24 on two busy ones). Building, running and testing do not need it: scripts/build-app.sh does the same steps.
set -euo pipefail
cd "$(dirname "$0")/.."

want_cargo_leptos=0
for arg in "$@"; do
  case "$arg" in
    --cargo-leptos) want_cargo_leptos=1 ;;
    *) echo "usage: $0 [--cargo-leptos]" >&2; exit 2 ;;
  esac
done

say() { echo "setup-leptos: $*"; }

# 1. The WASM target.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen-cli, the exact version the lock file has (the CLI and the library must match).
wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ -z "$wb_version" ]; then echo "no wasm-bindgen in Cargo.lock" >&2; exit 1; fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wb_version\$"; then
  say "installing wasm-bindgen-cli $wb_version"
  # Its lock file may name a yanked crate (0.2.130 locks webpki-roots 1.0.11, yanked): then resolve afresh.
  cargo install wasm-bindgen-cli --version "$wb_version" --locked \
    || cargo install wasm-bindgen-cli --version "$wb_version"
fi

# 3. npm packages (only when the lock file changed since the last install).
npm_install() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "npm ci in $dir"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
  fi
}
npm_install frontend
npm_install end2end

# 4. The openvidu-browser bundle, where cargo-leptos copies assets from.
bundle=$(ls frontend/node_modules/openvidu-browser/static/js/openvidu-browser-*.min.js | head -n1)
mkdir -p public/js
cmp -s "$bundle" public/js/openvidu-browser.min.js || cp "$bundle" public/js/openvidu-browser.min.js

# 5. cargo-leptos, on request. `cargo install cargo-leptos --locked` fails on rustc 1.95 (its locked
#    cargo-util-schemas 0.14.2 wants 1.96), so build 0.3.11 from source with that one crate downgraded.
if [ "$want_cargo_leptos" = 1 ]; then
  if cargo leptos --version 2>/dev/null | grep -q '0\.3\.'; then
    :
  else
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cargo-leptos-0.3.11 2>/dev/null | head -n1 || true)
    if [ -z "$src" ]; then
      # Fetches and unpacks the source into the registry, then fails on the rustc version; expected.
      cargo install cargo-leptos --version 0.3.11 --locked >/dev/null 2>&1 || true
      src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cargo-leptos-0.3.11 | head -n1)
    fi
    work=$(mktemp -d)
    cp -r "$src" "$work/"
    say "building cargo-leptos 0.3.11 (15 to 25 minutes)"
    (cd "$work/cargo-leptos-0.3.11" && cargo update -p cargo-util-schemas --precise 0.14.1 && cargo install --path . --locked)
    rm -rf "$work"
  fi
  # cargo-leptos downloads wasm-opt from GitHub unless one is on PATH: offer binaryen's from npm.
  if ! command -v wasm-opt >/dev/null; then
    ln -sf "$PWD/frontend/node_modules/.bin/wasm-opt" "${CARGO_HOME:-$HOME/.cargo}/bin/wasm-opt"
  fi
fi
say "ready"
