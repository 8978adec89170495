#!/usr/bin/env bash
# The page-weight budget (issue 6): the release WASM, built and optimised exactly as
# `scripts/build-app.sh --release` ships it, must be at most WASM_BUDGET bytes gzipped (gzip -9;
# default 300000). Fails, saying by how much, when it is over. Deterministic for a given lock file and
# toolchain: a size, not a speed, so it runs in CI. Leaves the served site (target/site) alone.
#   scripts/wasm-budget.sh
set -euo pipefail
cd "$(dirname "$0")/.."

budget=${WASM_BUDGET:-300000}
scripts/setup-leptos.sh
. scripts/wasm.sh
stage=target/app-pkg/budget
build_wasm release "$stage"
size=$(gzip -9 <"$stage/app_bg.wasm" | wc -c)
raw=$(wc -c <"$stage/app_bg.wasm")
if [ "$size" -gt "$budget" ]; then
  echo "wasm-budget: the release WASM is $size bytes gzipped ($raw raw), $((size - budget)) over the budget of $budget" >&2
  echo "wasm-budget: BENCHMARKS.md (Page weight) says what is large and how to look (twiggy top)" >&2
  exit 1
fi
echo "wasm-budget: the release WASM is $size bytes gzipped ($raw raw), $((budget - size)) under the budget of $budget"
