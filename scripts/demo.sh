#!/usr/bin/env bash
# Builds avito-auth and runs the demo: the quickstart printout, then the "Sign in with Avito"
# site on http://127.0.0.1:8788 (Ctrl-C to stop) — its server side as a Node backend, or with
# DEMO_WORKER=1 as a Cloudflare Worker under workerd. Without AVITO_CLIENT_ID/AVITO_CLIENT_SECRET
# everything runs against a local mock Avito. DEMO_NO_SITE=1 stops after the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
bash scripts/build.sh
(cd www && npm install --no-audit --no-fund --loglevel=error >/dev/null)
node www/quickstart.mjs
if [ -z "${DEMO_NO_SITE:-}" ]; then
  if [ -n "${DEMO_WORKER:-}" ]; then exec node www/worker-dev.mjs; fi
  exec node www/server.mjs
fi
