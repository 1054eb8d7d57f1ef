#!/usr/bin/env bash
# The full fleet soak of the token lifecycle (about a minute and a half): a rotating,
# fault-injecting token server, 8 Node processes on one Redis store (two renewers SIGKILLed
# mid-request, compare-and-sets lost or misreported) and 60 concurrent workerd requests on one
# Durable Object store. Prints the figures — calls, sign-ins and their causes, calls failed while
# the account was live, presentations, faults by type — and the invariants, and writes them to
# bench/soak-results.md; exits 1 when an invariant failed.
# Usage: scripts/soak.sh              build, pack and install the tarball first (as bench.sh)
#        scripts/soak.sh --no-build   use the package already in tests/.scratch/node (scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--no-build" ]; then
  SCRATCH=tests/.scratch/node
  if [ ! -f "$SCRATCH/node_modules/avito-auth/package.json" ]; then
    echo "no avito-auth installed in $SCRATCH: run scripts/test.sh, or scripts/soak.sh without --no-build" >&2
    exit 2
  fi
else
  . scripts/setup.sh
  if [ ! -x /usr/bin/redis-server ]; then
    echo "[setup] installing Debian's redis-server for the Redis fleet" >&2
    (apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null
  fi
  bash scripts/build.sh
  SCRATCH=bench/.scratch
  bash scripts/install-scratch.sh "$SCRATCH"
fi
node bench/soak.mjs "$SCRATCH"
