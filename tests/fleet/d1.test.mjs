// D1TokenStore under workerd (Miniflare's local D1): the shipped example Worker with 60 concurrent
// requests → one refresh; and the conformance kit run inside workerd against D1 and the Durable
// Object store.
import { it } from "node:test";
import assert from "node:assert/strict";
import { startMockAvito } from "../support/mock-avito.mjs";
import { startRepoWorker, renewalStorm } from "../support/example-worker.mjs";

it("workerd + D1: 60 concurrent requests, exactly one refresh, everyone gets the new token", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 300; // keep the renewal in flight while the other requests arrive
  const mf = await startRepoWorker("examples/worker-d1/worker.mjs", "d1-worker", {
    d1Databases: ["DB"],
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url },
  });
  try {
    const token = await renewalStorm(mf, mock);
    assert.match(token, /^at_/);
    const db = await mf.getD1Database("DB");
    const row = await db.prepare("SELECT token_set, lease_id FROM avito_tokens WHERE key = 'avito:42'").first();
    assert.equal(JSON.parse(row.token_set).access_token, token);
    assert.equal(row.lease_id, null, "the lease was released");
    // Another account in the same table is independent; an account without tokens must sign in.
    const unknown = await mf.dispatchFetch("http://w/token?account=never-signed-in");
    assert.equal(unknown.status, 401);
    assert.equal((await unknown.json()).error, "invalid_grant");
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
