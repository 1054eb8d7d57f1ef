#!/usr/bin/env bash
# Builds, installs the packed tarball into a scratch project and runs every benchmark; prints
# the table and writes it to bench/results.md. `--quick` for a short smoke run (not written).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
bash scripts/build.sh
bash scripts/install-scratch.sh bench/.scratch
node bench/run.mjs bench/.scratch "$@"
