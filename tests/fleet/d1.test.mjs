// D1TokenStore under workerd (Miniflare's local D1): the shipped example Worker with 60 concurrent
// requests → one refresh, and nothing for a caller without its ADMIN_TOKEN; its Cron Trigger
// (`scheduled`, fired by Miniflare) renewing the table's due sellers ahead of time beside live
// requests; and the conformance kit run inside workerd against D1 and the Durable Object store.
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

it("workerd + D1: the Cron Trigger renews every due seller in the table once, beside live requests; fresh ones untouched, refused ones logged for a sign-in", async () => {
  const mock = await startMockAvito();
  mock.tokenDelayMs = 20;
  const mf = await startRepoWorker("examples/worker-d1/worker.mjs", "d1-cron-worker", {
    d1Databases: ["DB"],
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url, ADMIN_TOKEN },
  });
  try {
    const MIN = 60_000;
    // An access token the mock's API accepts until `expiresAt`, as a sign-in would have issued.
    const issued = (expiresInMs, refresh_token = mock.grantRefresh()) => {
      const access_token = `at_seeded_${Math.random().toString(36).slice(2)}`;
      mock.state.access.set(access_token, { clientId: "demo-client", scope: "messenger:read,user:read", expiresAt: Date.now() + expiresInMs });
      return { access_token, refresh_token, token_type: "Bearer", expires_in: 86400, expires_at: Date.now() + expiresInMs };
    };
    const sets = {};
    for (let i = 0; i < 20; i++) sets[`due-${i}`] = issued((5 + i) * MIN);
    for (let i = 0; i < 5; i++) sets[`expired-${i}`] = issued(-MIN);
    for (let i = 0; i < 8; i++) sets[`fresh-${i}`] = issued(3 * 60 * MIN);
    for (let i = 0; i < 3; i++) sets[`refused-${i}`] = issued(10 * MIN, `rt_refused_${i}`);
    for (const [account, set] of Object.entries(sets)) assert.equal(await (await authed(mf, `http://w/tokens?account=${account}`, { method: "POST", body: JSON.stringify(set) })).text(), "stored\n");
    const db = await mf.getD1Database("DB");
    const stored = async (account) => JSON.parse((await db.prepare("SELECT token_set FROM avito_tokens WHERE key = ?").bind(`avito:${account}`).first()).token_set);
    const worker = await mf.getWorker();
    // Live requests for every seller while the trigger runs.
    const live = Promise.all(Object.keys(sets).map((account) => authed(mf, `http://w/profile?account=${account}`).then(async (r) => [account, r.status, await r.text()])));
    const run = await worker.scheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
    assert.equal(run.outcome, "ok", JSON.stringify(run));
    for (const [account, status, body] of await live) {
      if (account.startsWith("refused-")) assert.ok(status === 200 || status === 409, `${account}: ${status} ${body}`);
      else assert.equal(status, 200, `${account}: ${body}`);
    }
    const presented = new Map();
    for (const r of mock.requests) if (r.form.grant_type === "refresh_token") presented.set(r.form.refresh_token, (presented.get(r.form.refresh_token) ?? 0) + 1);
    for (const [account, set] of Object.entries(sets)) {
      const now = await stored(account);
      if (account.startsWith("fresh-")) {
        assert.deepEqual(now, set, `${account}: untouched`);
        assert.equal(presented.get(set.refresh_token), undefined);
      } else {
        assert.equal(presented.get(set.refresh_token), 1, `${account}: its refresh token presented once`);
        if (account.startsWith("refused-")) assert.ok(now.refresh_refused_at > 0 && now.refresh_token === undefined, account);
        else assert.ok(now.refresh_token !== set.refresh_token && now.expires_at > Date.now() + 23 * 60 * MIN && now.renewal === undefined, account);
      }
    }
    assert.equal(mock.counts.refresh, 28);
    // Fired again: everyone is fresh or must sign in; nothing is sent.
    const again = await worker.scheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
    assert.equal(again.outcome, "ok");
    assert.equal(mock.counts.refresh, 28);
    // A renewal that fails fails the run (the token server refuses the client once: not retried,
    // and not the seller's refusal).
    await db.prepare("UPDATE avito_tokens SET token_set = ? WHERE key = 'avito:due-0'").bind(JSON.stringify({ ...(await stored("due-0")), expires_at: Date.now() + MIN })).run();
    mock.script({ status: 401, json: { error: "invalid_client" } });
    const failing = await worker.scheduled({ cron: "*/15 * * * *", scheduledTime: new Date() });
    assert.equal(failing.outcome, "exception");
    assert.equal(mock.counts.refresh, 29);
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
