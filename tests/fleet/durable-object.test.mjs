// Renewal across Worker invocations under workerd: each request builds its own TokenManager
// (no shared memory), and the AvitoTokensDurableObject serialises the renewal.
import { it } from "node:test";
import assert from "node:assert/strict";
import { startMockAvito } from "../support/mock-avito.mjs";
import { startRepoWorker } from "../support/example-worker.mjs";

/** examples/worker-durable-object under workerd, against `mock`. */
const startExampleWorker = (mock, name) =>
  startRepoWorker("examples/worker-durable-object/worker.mjs", name, {
    durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" },
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url },
  });


it("workerd + Durable Object: 60 concurrent requests, exactly one refresh, everyone gets the new token", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 300; // keep the renewal in flight while the other requests arrive
  // The shipped example Worker, with the tarball's avito-auth beside it.
  const mf = await startExampleWorker(mock, "do-worker");
  try {
    const seed = { access_token: "expired", refresh_token: mock.grantRefresh(), expires_in: 86400, token_type: "Bearer", expires_at: Date.now() - 1000 };
    assert.equal(await (await mf.dispatchFetch("http://w/tokens?account=42", { method: "POST", body: JSON.stringify(seed) })).text(), "stored\n");
    const responses = await Promise.all(Array.from({ length: 60 }, () => mf.dispatchFetch("http://w/token?account=42")));
    const tokens = await Promise.all(responses.map((r) => r.text()));
    assert.ok(responses.every((r) => r.status === 200), tokens.find((t) => !t.startsWith("at_")));
    assert.equal(new Set(tokens).size, 1, "every request got the same token");
    assert.notEqual(tokens[0], "expired");
    assert.equal(mock.counts.refresh, 1, "exactly one refresh reached the token server");
    // The API call through tm.fetch: the token is accepted; once Avito expires it (403), one renewal and a retry.
    const self = await mf.dispatchFetch("http://w/self?account=42");
    assert.equal(self.status, 200);
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    const again = await mf.dispatchFetch("http://w/self?account=42");
    assert.equal(again.status, 200);
    assert.equal(mock.counts.refresh, 2, "one renewal after the 403");
    const unknown = await mf.dispatchFetch("http://w/token?account=never-signed-in");
    assert.equal(unknown.status, 401, "an account without tokens must sign in");
    assert.equal((await unknown.json()).error, "invalid_grant");
  } finally {
    await mf.dispose();
    await mock.close();
  }
});

// Issue 12: the token server resets the connection on the first refresh before processing it
// (nothing spent). The renewal presents the same refresh token again (2 s later): every request gets
// the new token, none is told to sign in.
it("workerd + Durable Object: the first refresh reset before processing → 30 concurrent requests all get one new token, 0 sign-ins", async () => {
  const mock = await startMockAvito();
  const mf = await startExampleWorker(mock, "do-worker-reset");
  try {
    const refresh_token = mock.grantRefresh();
    const seed = { access_token: "expired", refresh_token, expires_in: 86400, token_type: "Bearer", expires_at: Date.now() - 1000 };
    assert.equal(await (await mf.dispatchFetch("http://w/tokens?account=7", { method: "POST", body: JSON.stringify(seed) })).text(), "stored\n");
    mock.script({ reset: true });
    const responses = await Promise.all(Array.from({ length: 30 }, () => mf.dispatchFetch("http://w/token?account=7")));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    assert.deepEqual(responses.map((r) => r.status).filter((s) => s !== 200), [], bodies.find((b) => !b.startsWith("at_")));
    assert.equal(new Set(bodies).size, 1, "every request got the same token");
    const sent = mock.requests.filter((r) => r.form.grant_type === "refresh_token").map((r) => r.form.refresh_token);
    assert.deepEqual(sent, [refresh_token, refresh_token], "the reset refresh, then the same token once more");
    const later = await Promise.all(Array.from({ length: 10 }, () => mf.dispatchFetch("http://w/token?account=7").then((r) => r.text())));
    assert.deepEqual(new Set(later), new Set(bodies), "later requests: the stored token");
  } finally {
    await mf.dispose();
    await mock.close();
  }
});
