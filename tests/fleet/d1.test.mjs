// D1TokenStore under workerd (Miniflare's local D1): the shipped example Worker with 60 concurrent
// requests → one refresh, and nothing for a caller without its ADMIN_TOKEN; and the conformance
// kit run inside workerd against D1 and the Durable Object store.
import { it } from "node:test";
import assert from "node:assert/strict";
import { startMockAvito } from "../support/mock-avito.mjs";
import { ADMIN_TOKEN, assertLockedOut, authed, exampleBindings, renewEach, renewalStorm, startRepoWorker } from "../support/example-worker.mjs";
import { NEW_KEY, OLD_KEY, assertSwept, sealKeysEnv } from "../support/seal.mjs";

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

it("the conformance kit passes inside workerd on D1TokenStore and DurableObjectTokenStore, plain and sealed", async () => {
  const mf = await startRepoWorker("tests/fleet/kit-worker.mjs", "kit-worker", {
    d1Databases: ["DB"], durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" }, bindings: { AVITO_SEAL_KEYS: sealKeysEnv([NEW_KEY, OLD_KEY]) },
  });
  try {
    for (const store of ["d1", "durable-object"]) {
      for (const sealed of ["0", "1"]) {
        const res = await mf.dispatchFetch(`http://w/kit?store=${store}&sealed=${sealed}`);
        const body = await res.json();
        assert.ok(body.ok, `${store} sealed=${sealed}:\n${body.report}`);
        assert.ok(body.checks >= 10, store);
      }
    }
    // The sealed runs wrote sealed rows: none of the kit's tokens is in the table.
    const rows = (await (await mf.getD1Database("DB")).prepare("SELECT key, token_set FROM avito_tokens WHERE key LIKE 'sealed-%' AND token_set IS NOT NULL").all()).results;
    assert.ok(rows.length >= 8 && rows.every((r) => !/"[ar]t-\d+-/.test(r.token_set) && JSON.parse(r.token_set).sealed?.kid === NEW_KEY.id), `${rows.length} sealed rows`);
  } finally {
    await mf.dispose();
  }
});

// Issue 20: the example sealed (AVITO_SEAL_KEYS, the new key first): renewals go on as before, and
// the whole database, SELECT * of every table after the run, holds no token the server issued.
it("workerd + D1, sealed: renewals through the sealed example; SELECT * of every table holds no token and no 8-character piece of one", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 200;
  const mf = await startRepoWorker("examples/worker-d1/worker.mjs", "d1-worker-sealed", {
    d1Databases: ["DB"],
    bindings: exampleBindings(mock, sealKeysEnv([NEW_KEY, OLD_KEY])),
  });
  try {
    const accounts = ["42", "43", "44"];
    await renewEach(mf, mock, accounts);
    const db = await mf.getD1Database("DB");
    const tables = (await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all()).results.map((t) => t.name);
    assert.ok(tables.includes("avito_tokens"), tables.join());
    let dump = "";
    for (const table of tables) dump += JSON.stringify((await db.prepare(`SELECT * FROM "${table}"`).all()).results) + "\n";
    assertSwept(dump, mock.state.issued, { what: "D1 SELECT *", kid: NEW_KEY.id, records: accounts.length });
  } finally {
    await mf.dispose();
    await mock.close();
  }
});
