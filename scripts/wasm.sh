# Sourced by scripts/build-app.sh and scripts/wasm-budget.sh: the browser build, as both need it.
#   build_wasm debug|release <stage dir>
# builds the frontend crate for wasm32, runs wasm-bindgen into <stage dir> (app.js, app_bg.wasm) and, for
# release, wasm-opt. Needs what scripts/setup-leptos.sh installs. Cargo's output is read from
# $CARGO_TARGET_DIR when it is set.
build_wasm() {
  local profile=$1 stage=$2 wasm
  if [ "$profile" = release ]; then
    # The wasm-release profile (Cargo.toml): optimised for size, the server's release build is not.
    cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
    wasm=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/wasm-release/frontend.wasm
  else
    cargo build -p frontend --lib --target wasm32-unknown-unknown
    wasm=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/debug/frontend.wasm
  fi
  rm -rf "$stage"
  mkdir -p "$stage"
  wasm-bindgen --target web --no-typescript --out-dir "$stage" --out-name app "$wasm"
  if [ "$profile" = release ]; then
    # Flattening and re-looping the control flow before two rounds of -Oz: 2.8 KB smaller gzipped than
    # -Oz alone, for a few more seconds (BENCHMARKS.md, Page weight).
    frontend/node_modules/.bin/wasm-opt --flatten --rereloop -Oz -Oz \
      --enable-bulk-memory --enable-nontrapping-float-to-int "$stage/app_bg.wasm" -o "$stage/app_bg.wasm"
  fi
}
