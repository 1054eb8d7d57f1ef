#!/usr/bin/env bash
# Runs every test: the native Rust core, then the packed npm tarball in real runtimes.
# Installs what it needs (idempotent). Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh

MISSING=""
[ -x /usr/bin/chromium ] || MISSING="$MISSING chromium"
[ -x /usr/bin/redis-server ] || MISSING="$MISSING redis-server"
# PostgreSQL: the fleet tests initdb a server of their own in a temporary folder (any version).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || MISSING="$MISSING postgresql"
if [ -n "$MISSING" ]; then
  echo "[setup] installing Debian's$MISSING for the browser and fleet tests" >&2
  (apt-get update -qq && apt-get install -y -qq $MISSING) >/dev/null
fi

echo "== house style: cargo fmt, cargo clippy (native, all targets; wasm32 edge)"
cargo fmt --check
cargo clippy --quiet --all-targets --features native-json,model-mutants -- -D warnings
cargo clippy --quiet --target wasm32-unknown-unknown -- -D warnings

echo "== cargo test (native core)"
cargo test --quiet --features native-json 2>&1
echo "== the renewal model with each guard removed in turn (model-mutants: every one must fail it)"
cargo test --quiet --features native-json,model-mutants --test renewal_model removing_any_guard -- --nocapture 2>&1

echo "== build and pack"
bash scripts/build.sh

echo "== install the tarball into a scratch project"
bash scripts/install-scratch.sh tests/.scratch/node

(cd www && npm install --no-audit --no-fund --loglevel=error >/dev/null)

# The globs take in every suite, the edge's failure paths (tests/node/failure-paths.test.mjs) and
# the other fetch libraries (tests/hostile/fetch-libraries.test.mjs) included.
echo "== node --test: contract (ESM+CJS), edge failure paths, package checks, differential encoding, runtimes (Node 18/20/22/24, Deno, Bun, workerd + service binding, Chromium), www demo, hostile upstream (Node, workerd; npm undici, undici + ProxyAgent, node-fetch), the store kit and AccountTokens, fleets and the kit on every store (Durable Object, D1, Redis, PostgreSQL, Deno KV), command line"
node --test --test-concurrency=1 tests/node/*.test.mjs tests/runtimes/*.test.mjs tests/www/*.test.mjs tests/hostile/*.test.mjs tests/fleet/*.test.mjs tests/cli/*.test.mjs
