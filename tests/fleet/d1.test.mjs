// D1TokenStore under workerd (Miniflare's local D1): the shipped example Worker with 60 concurrent
// requests → one refresh, and nothing for a caller without its ADMIN_TOKEN; and the conformance
// kit run inside workerd against D1 and the Durable Object store.
import { it } from "node:test";
import assert from "node:assert/strict";
import { startMockAvito } from "../support/mock-avito.mjs";
import { ADMIN_TOKEN, assertLockedOut, authed, renewalStorm, startRepoWorker } from "../support/example-worker.mjs";

it("workerd + D1: 60 concurrent API calls, exactly one refresh; no token in any answer; 401 without ADMIN_TOKEN", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 300; // keep the renewal in flight while the other requests arrive
  const mf = await startRepoWorker("examples/worker-d1/worker.mjs", "d1-worker", {
    d1Databases: ["DB"],
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url, ADMIN_TOKEN },
  });
  try {
    const presented = await renewalStorm(mf, mock);
    const db = await mf.getD1Database("DB");
    const row = await db.prepare("SELECT token_set, lease_id FROM avito_tokens WHERE key = 'avito:42'").first();
    const stored = JSON.parse(row.token_set);
    assert.ok(mock.state.access.has(stored.access_token), "the renewed token is stored");
    assert.notEqual(stored.refresh_token, presented, "the rotated refresh token is stored");
    assert.equal(row.lease_id, null, "the lease was released");
    await assertLockedOut(mf, mock, "42");
    // Another account in the same table is independent; an account without tokens must sign in.
    const unknown = await authed(mf, "http://w/profile?account=never-signed-in");
    assert.equal(unknown.status, 409);
    const body = await unknown.json();
    assert.equal(body.kind, "sign_in_required", "no tokens stored: nothing was sent");
    assert.equal(body.sign_in_required, true);
    assert.equal(mock.counts.refresh, 1);
  } finally {
    await mf.dispose();
    await mock.close();
  }
});

it("the conformance kit passes inside workerd on D1TokenStore and DurableObjectTokenStore", async () => {
  const mf = await startRepoWorker("tests/fleet/kit-worker.mjs", "kit-worker", { d1Databases: ["DB"], durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" } });
  try {
    for (const store of ["d1", "durable-object"]) {
      const res = await mf.dispatchFetch(`http://w/kit?store=${store}`);
      const body = await res.json();
      assert.ok(body.ok, `${store}:\n${body.report}`);
      assert.ok(body.checks >= 10, store);
    }
  } finally {
    await mf.dispose();
  }
});
