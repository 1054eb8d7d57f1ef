#!/usr/bin/env bash
# Installs the packed tarball (target/avito-auth.tgz) into a fresh scratch project, as a user
# would: `scripts/install-scratch.sh DIR`. Adds esm.mjs / cjs.cjs / redis.mjs re-exports.
set -euo pipefail
cd "$(dirname "$0")/.."
SCRATCH="$1"
rm -rf "$SCRATCH" && mkdir -p "$SCRATCH"
echo '{ "name": "scratch", "private": true }' > "$SCRATCH/package.json"
TGZ="$(pwd)/target/avito-auth.tgz"
(cd "$SCRATCH" && npm install --no-audit --no-fund --loglevel=error "$TGZ" >/dev/null)
echo 'export * from "avito-auth";' > "$SCRATCH/esm.mjs"
echo 'module.exports = require("avito-auth");' > "$SCRATCH/cjs.cjs"
echo 'export * from "avito-auth/redis";' > "$SCRATCH/redis.mjs"
for m in postgres deno-kv d1 testing opentelemetry; do echo "export * from \"avito-auth/$m\";" > "$SCRATCH/$m.mjs"; done
