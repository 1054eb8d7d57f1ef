// Renewal across Worker invocations under workerd: each request builds its own TokenManager
// (no shared memory), and the AvitoTokensDurableObject serialises the renewal. The example answers
// only callers holding its ADMIN_TOKEN, and never with a token.
import { it } from "node:test";
import assert from "node:assert/strict";
import { startMockAvito } from "../support/mock-avito.mjs";
import { ADMIN_TOKEN, assertLockedOut, authed, exampleBindings, renewEach, renewalStorm, startRepoWorker } from "../support/example-worker.mjs";
import { copyFileSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { NEW_KEY, OLD_KEY, assertSwept, sealKeysEnv } from "../support/seal.mjs";

/** examples/worker-durable-object under workerd, against `mock`. */
const startExampleWorker = (mock, name, secrets = { ADMIN_TOKEN }) =>
  startRepoWorker("examples/worker-durable-object/worker.mjs", name, {
    durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" },
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url, ...secrets },
  });


it("workerd + Durable Object: 60 concurrent API calls, exactly one refresh; no token in any answer; 401 without ADMIN_TOKEN", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 300; // keep the renewal in flight while the other requests arrive
  // The shipped example Worker, with the tarball's avito-auth beside it.
  const mf = await startExampleWorker(mock, "do-worker");
  try {
    await renewalStorm(mf, mock);
    // The API call through tm.fetch: once Avito expires the token (403), one renewal and a retry.
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    const again = await authed(mf, "http://w/profile?account=42");
    assert.equal(again.status, 200);
    assert.equal(mock.counts.refresh, 2, "one renewal after the 403");
    await assertLockedOut(mf, mock, "42");
    const unknown = await authed(mf, "http://w/profile?account=never-signed-in");
    assert.equal(unknown.status, 409, "an account without tokens must sign in");
    assert.equal((await unknown.json()).kind, "sign_in_required", "no tokens stored: nothing was sent");
  } finally {
    await mf.dispose();
    await mock.close();
  }
});

it("workerd + Durable Object: without the ADMIN_TOKEN secret bound, every request is refused", async () => {
  const mock = await startMockAvito();
  const mf = await startExampleWorker(mock, "do-worker-no-secret", {});
  try {
    for (const headers of [{}, { authorization: "Bearer " }, { authorization: "Bearer undefined" }, { authorization: `Bearer ${ADMIN_TOKEN}` }]) {
      const res = await mf.dispatchFetch("http://w/tokens?account=1", { method: "POST", headers, body: JSON.stringify({ access_token: "at_x", refresh_token: mock.grantRefresh() }) });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.equal(await res.text(), "unauthorized\n");
    }
  } finally {
    await mf.dispose();
    await mock.close();
  }
});

// Issue 12: the token server resets the connection on the first refresh before processing it
// (nothing spent). The renewal presents the same refresh token again (2 s later): every request gets
// the new token, none is told to sign in.
it("workerd + Durable Object: the first refresh reset before processing → 30 concurrent API calls all succeed on one new token, 0 sign-ins", async () => {
  const mock = await startMockAvito();
  const mf = await startExampleWorker(mock, "do-worker-reset");
  try {
    const refresh_token = mock.grantRefresh();
    const seed = { access_token: "expired", refresh_token, expires_in: 86400, token_type: "Bearer", expires_at: Date.now() - 1000 };
    assert.equal(await (await authed(mf, "http://w/tokens?account=7", { method: "POST", body: JSON.stringify(seed) })).text(), "stored\n");
    mock.script({ reset: true });
    const responses = await Promise.all(Array.from({ length: 30 }, () => authed(mf, "http://w/profile?account=7")));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    assert.deepEqual(responses.map((r) => r.status).filter((s) => s !== 200), [], bodies.find((b) => !b.startsWith("{")));
    const sent = mock.requests.filter((r) => r.form.grant_type === "refresh_token").map((r) => r.form.refresh_token);
    assert.deepEqual(sent, [refresh_token, refresh_token], "the reset refresh, then the same token once more");
    assert.equal(mock.state.access.size, 1, "one new access token for every request");
    const later = await Promise.all(Array.from({ length: 10 }, () => authed(mf, "http://w/profile?account=7").then((r) => r.status)));
    assert.deepEqual(later, Array(10).fill(200), "later requests: the stored token");
    assert.equal(mock.requests.length, 2, "and no more token requests");
  } finally {
    await mf.dispose();
    await mock.close();
  }
});

// Issue 20: the example sealed (AVITO_SEAL_KEYS, the new key first): renewals go on as before, and
// the Durable Objects' storage, list()ed whole after the run, holds no token the server issued.
it("workerd + Durable Object, sealed: renewals through the sealed example; storage list() holds no token and no 8-character piece of one", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 200;
  copyFileSync(path.join(ROOT, "examples/worker-durable-object/worker.mjs"), path.join(SCRATCH, "do-example.mjs"));
  const mf = await startRepoWorker("tests/fleet/durable-object-dump-worker.mjs", "do-dump-worker", {
    durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" },
    bindings: exampleBindings(mock, sealKeysEnv([NEW_KEY, OLD_KEY])),
  });
  try {
    const accounts = ["42", "43", "44"];
    await renewEach(mf, mock, accounts);
    const dumps = await Promise.all(accounts.map(async (account) => (await mf.dispatchFetch(`http://w/__storage?account=${account}`)).text()));
    assertSwept(dumps.join("\n"), mock.state.issued, { what: "Durable Object storage list()", kid: NEW_KEY.id, records: accounts.length });
  } finally {
    await mf.dispose();
    await mock.close();
  }
});
