#!/usr/bin/env bash
# Builds, installs the packed tarball into a scratch project and runs every benchmark; prints
# the table and writes it to bench/results.md (summary of budgets first; the pre-rewrite figures
# are in bench/results-before.md). `--quick` for a short smoke run (not written).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
# "Where the bytes go" needs twiggy (wasm-bindgen and wasm-opt come with setup.sh).
if ! command -v twiggy >/dev/null; then
  echo "[bench] installing twiggy" >&2; cargo install twiggy --locked >&2
fi
bash scripts/build.sh
bash scripts/install-scratch.sh bench/.scratch
node bench/run.mjs bench/.scratch "$@"
