// D1TokenStore under workerd (Miniflare's local D1): the shipped example Worker with 60 concurrent
// requests → one refresh; and the conformance kit run inside workerd against D1 and the Durable
// Object store.
import { it } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { bundleWithWrangler, startWorker } from "../support/worker.mjs";

it("workerd + D1: 60 concurrent requests, exactly one refresh, everyone gets the new token", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 300; // keep the renewal in flight while the other requests arrive
  const dir = path.join(SCRATCH, "d1-worker");
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(ROOT, "examples/worker-d1/worker.mjs"), path.join(SCRATCH, "d1-worker.mjs"));
  const script = await bundleWithWrangler(path.join(SCRATCH, "d1-worker.mjs"), dir);
  const mf = await startWorker(script, {
    d1Databases: ["DB"],
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url },
  });
  try {
    const seed = { access_token: "expired", refresh_token: mock.grantRefresh(), expires_in: 86400, token_type: "Bearer", expires_at: Date.now() - 1000 };
    assert.equal(await (await mf.dispatchFetch("http://w/tokens?account=42", { method: "POST", body: JSON.stringify(seed) })).text(), "stored\n");
    const responses = await Promise.all(Array.from({ length: 60 }, () => mf.dispatchFetch("http://w/token?account=42")));
    const tokens = await Promise.all(responses.map((r) => r.text()));
    assert.ok(responses.every((r) => r.status === 200), tokens.find((t) => !t.startsWith("at_")));
    assert.equal(new Set(tokens).size, 1, "every request got the same token");
    assert.match(tokens[0], /^at_/);
    assert.equal(mock.counts.refresh, 1, "exactly one refresh reached the token server");
    const db = await mf.getD1Database("DB");
    const row = await db.prepare("SELECT token_set, lease_id FROM avito_tokens WHERE key = 'avito:42'").first();
    assert.equal(JSON.parse(row.token_set).access_token, tokens[0]);
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
  const dir = path.join(SCRATCH, "kit-worker");
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(ROOT, "tests/fleet/kit-worker.mjs"), path.join(SCRATCH, "kit-worker.mjs"));
  const script = await bundleWithWrangler(path.join(SCRATCH, "kit-worker.mjs"), dir);
  const mf = await startWorker(script, { d1Databases: ["DB"], durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" } });
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
