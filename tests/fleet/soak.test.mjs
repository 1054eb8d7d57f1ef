// A short soak of the token lifecycle across fleets (the full one: scripts/soak.sh): a token
// server that rotates refresh tokens like Avito and injects faults (tests/support/
// rotating-token-server.mjs), and
//   - 8 Node processes sharing one RedisTokenStore, one renewer SIGKILLed mid-renewal;
//   - 60 concurrent workerd requests sharing one AvitoTokensDurableObject.
// Each fleet loops getAccessToken() / tm.fetch() (and client_credentials in Node) for a few
// seconds under per-call deadlines; the invariants are checked from the server's log and the
// members' reports (tests/support/soak-fleet.mjs): no refresh token presented after a request
// that spent it, the store ends with the newest token, no delivered token dropped, every failure
// a typed ApiException, no caller past its deadline, memory flat, the fleet working at the end.
import { it } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { SCRATCH } from "../support/load.mjs";
import { runRedisFleet, runWorkerFleet, report } from "../support/soak-fleet.mjs";

const rates = { http_500: 0.02, http_502: 0.02, http_503: 0.03, reset_before: 0.03, reset_after: 0.03, hang: 0.02, slow: 0.1 };

function assertExercised(result, types) {
  for (const f of types) assert.ok(result.server.faultsByType[f] >= 1, `${f} was not exercised: ${JSON.stringify(result.server.faultsByType)}`);
}

function assertChecks(result, t) {
  const lines = report(result);
  t.diagnostic(lines.join("\n"));
  const failed = result.checks.filter((c) => !c.ok);
  assert.deepEqual(failed.map((c) => c.name), [], `${failed.length} invariant(s) failed:\n${failed.map((c) => `- ${c.name}: ${c.detail}`).join("\n")}\n\n${lines.join("\n")}`);
}

it("soak: 8 Node processes on one Redis store, faults injected, a renewer SIGKILLed mid-renewal", { timeout: 60_000 }, async (t) => {
  assert.ok(existsSync(path.join(SCRATCH, "node_modules/avito-auth/package.json")), "the packed package is not installed: run scripts/test.sh");
  const result = await runRedisFleet({
    scratch: SCRATCH,
    processes: 8,
    durationMs: 5000,
    quietMs: 1200,
    maxIters: 300,
    seed: 7,
    rates: { refresh_token: rates, client_credentials: rates },
    // Forced faults on the n-th request of a grant, so each kind is exercised in a short run: a
    // 503 (retried by the package) whose retry's rotation is then lost to a reset, a hang, a reset
    // before processing, 500/502…
    schedule: {
      refresh_token: { 1: "http_503", 2: "reset_after", 6: "hang", 7: "reset_before", 8: "http_500", 9: "http_502", 10: "slow" },
      client_credentials: { 1: "http_502", 2: "reset_after", 3: "hang", 4: "http_503", 5: "reset_before", 6: "http_500", 7: "slow" },
    },
    // …and the 4th refresh is held while its sender is SIGKILLed; the server completes it anyway.
    kill: { nth: 4, holdMs: 400, mode: "processed" },
  });
  assertExercised(result, ["refresh:http_503", "refresh:reset_after", "refresh:hold_processed", "cc:hang", "cc:reset_after", "cc:http_502"]);
  assertChecks(result, t);
});

it("soak: 60 concurrent workerd requests on one Durable Object store, faults injected", { timeout: 60_000 }, async (t) => {
  const result = await runWorkerFleet({
    scratch: SCRATCH,
    concurrency: 60,
    durationMs: 4000,
    quietMs: 1200,
    batchMs: 1000,
    maxIters: 100,
    seed: 11,
    rates: { refresh_token: rates },
    schedule: { refresh_token: { 1: "http_503", 3: "reset_before", 4: "reset_after", 6: "hang", 7: "http_502", 8: "http_500", 9: "slow" } },
  });
  assertExercised(result, ["refresh:http_503", "refresh:reset_before", "refresh:reset_after"]);
  assertChecks(result, t);
});
