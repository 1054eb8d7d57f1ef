// TokenManager in one process (issue 4), against the mock Avito, from the packed tarball.
import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { startMockAvito } from "../support/mock-avito.mjs";
import { loadBoth } from "../support/load.mjs";

const { esm: lib } = await loadBoth();
let mock, auth;
before(async () => {
  mock = await startMockAvito();
  auth = new lib.AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url });
});
after(() => mock.close());
beforeEach(() => mock.reset());

const userTokens = async () => auth.exchangeCode(mock.grantCode());

describe("TokenManager", () => {
  it("1,000 concurrent getAccessToken() share one request; a cached token costs none", async () => {
    const tm = new lib.TokenManager({ auth, grant: "client_credentials" });
    const tokens = await Promise.all(Array.from({ length: 1000 }, () => tm.getAccessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(mock.counts.client_credentials, 1);
    await Promise.all(Array.from({ length: 100 }, () => tm.getAccessToken()));
    assert.equal(mock.counts.token, 1);
    assert.equal(await tm.authorizationHeader(), `Bearer ${tokens[0]}`);
  });

  it("renews refreshSkewMs before expires_at", async () => {
    mock.script({ json: { access_token: "short-lived", expires_in: 30, token_type: "Bearer" } });
    const eager = new lib.TokenManager({ auth, refreshSkewMs: 60_000 });
    assert.equal(await eager.getAccessToken(), "short-lived");
    assert.notEqual(await eager.getAccessToken(), "short-lived", "30 s left is inside a 60 s skew: renewed");
    assert.equal(mock.counts.token, 2);
    mock.reset();
    mock.script({ json: { access_token: "short-lived", expires_in: 30, token_type: "Bearer" } });
    const relaxed = new lib.TokenManager({ auth, refreshSkewMs: 10_000 });
    await relaxed.getAccessToken();
    assert.equal(await relaxed.getAccessToken(), "short-lived");
    assert.equal(mock.counts.token, 1);
  });

  it("an expired user token is refreshed with its refresh token; a valid one is used as is", async () => {
    const ts = await userTokens();
    const valid = new lib.TokenManager({ auth, tokens: ts });
    assert.equal(await valid.getAccessToken(), ts.access_token);
    assert.equal(mock.counts.refresh, 0);
    const expired = new lib.TokenManager({ auth, tokens: { ...ts, expires_at: Date.now() - 1 } });
    const fresh = await expired.getAccessToken();
    assert.notEqual(fresh, ts.access_token);
    assert.equal(mock.counts.refresh, 1);
    assert.equal(mock.requests.at(-1).form.refresh_token, ts.refresh_token);
  });

  it("a rotation chain always uses the newest refresh token and hands each set to onTokens and the store", async () => {
    const first = await userTokens();
    const store = new lib.MemoryTokenStore();
    const seen = [];
    const tm = new lib.TokenManager({ auth, tokens: first, store, onTokens: (t) => seen.push(t) });
    await tm.getAccessToken();
    for (let i = 0; i < 5; i++) {
      tm.invalidate();
      await tm.getAccessToken();
    }
    assert.equal(seen.length, 5);
    assert.equal(new Set(seen.map((t) => t.refresh_token)).size, 5);
    const sent = mock.requests.filter((r) => r.form.grant_type === "refresh_token").map((r) => r.form.refresh_token);
    assert.deepEqual(sent, [first.refresh_token, ...seen.slice(0, 4).map((t) => t.refresh_token)]);
    assert.deepEqual(await store.get(), seen.at(-1));
  });

  it("a refused refresh token rejects every waiter with the same ApiException, and the store records the refusal", async () => {
    const original = { access_token: "old", refresh_token: "spent-or-bogus", expires_at: 0 };
    const store = new lib.MemoryTokenStore(original);
    const onTokens = () => assert.fail("onTokens must not run on failure");
    const tm = new lib.TokenManager({ auth, grant: "refresh_token", store, onTokens });
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => tm.getAccessToken()));
    assert.ok(results.every((r) => r.status === "rejected"));
    const errs = new Set(results.map((r) => r.reason));
    assert.equal(errs.size, 1, "one shared error");
    const [err] = errs;
    assert.ok(err instanceof lib.ApiException);
    assert.equal(err.kind, "oauth");
    assert.equal(err.error, "invalid_grant");
    assert.equal(err.signInRequired, true, "invalid_grant on refresh means: sign in again");
    assert.equal(mock.counts.refresh, 1);
    assert.equal(mock.counts.client_credentials, 0, "never falls back to another grant");
    // The refused refresh token is removed (never presented again); the access token stays.
    const { refresh_refused_at, ...rest } = await store.get();
    assert.deepEqual(rest, { access_token: "old", expires_at: 0 });
    assert.ok(refresh_refused_at > 0);
    const again = await tm.getAccessToken().catch((e) => e);
    assert.equal(again.signInRequired, true);
    assert.equal(again.kind, "invalid_argument", "answered without sending");
    assert.equal(mock.counts.refresh, 1, "the refused token is not presented again");
  });

  it("one caller's abort does not fail the others sharing the renewal", async () => {
    mock.tokenDelayMs = 200;
    const tm = new lib.TokenManager({ auth });
    const ac = new AbortController();
    const quitter = tm.getAccessToken({ signal: ac.signal });
    const patient = Array.from({ length: 5 }, () => tm.getAccessToken());
    setTimeout(() => ac.abort(), 50);
    const err = await quitter.catch((e) => e);
    assert.ok(err instanceof lib.ApiException && err.kind === "aborted");
    const tokens = await Promise.all(patient);
    assert.equal(new Set(tokens).size, 1);
    assert.equal(mock.counts.client_credentials, 1);
    assert.equal(await tm.getAccessToken(), tokens[0], "the renewal was kept");
  });

  it("TokenManagers sharing a store renew once (lease + re-read)", async () => {
    mock.tokenDelayMs = 100;
    const store = new lib.MemoryTokenStore({ ...(await userTokens()), expires_at: 0 });
    const managers = Array.from({ length: 10 }, () => new lib.TokenManager({ auth, grant: "refresh_token", store }));
    const tokens = await Promise.all(managers.map((m) => m.getAccessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(mock.counts.refresh, 1);
  });

  it("tm.fetch adds Authorization; on 403 renews once and retries once", async () => {
    // Recoveries are rate-limited (60 s by default); this test expires the token three times.
    const tm = new lib.TokenManager({ auth, refusalRenewalIntervalMs: 0 });
    const ok = await tm.fetch(`${mock.url}/core/v1/accounts/self`);
    assert.equal(ok.status, 200);
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    const again = await tm.fetch(`${mock.url}/core/v1/accounts/self`, { method: "POST", body: "a=1", headers: { "x-keep": "1" } });
    assert.equal(again.status, 200);
    assert.equal(mock.counts.client_credentials, 2);
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    const req = new Request(`${mock.url}/core/v1/accounts/self`, { method: "POST", body: "x" });
    assert.equal((await tm.fetch(req)).status, 200, "a Request body is replayed from a clone");
  });

  it("tm.fetch renews on 401 too, retries only once, and never replays a stream body", async () => {
    let calls = 0;
    const statuses = [];
    const fetchImpl = async (input, init) => { calls++; statuses.push(init.headers.get("authorization")); return new Response("no", { status: 401 }); };
    const tm = new lib.TokenManager({ auth, fetch: fetchImpl, refusalRenewalIntervalMs: 0 });
    // A token this very call obtained is not renewed again on a refusal (not about expiry).
    assert.equal((await tm.fetch("https://api.example/x")).status, 401);
    assert.equal(calls, 1, "no renewal for a token just obtained");
    calls = 0;
    statuses.length = 0;
    assert.equal((await tm.fetch("https://api.example/x")).status, 401);
    assert.equal(calls, 2, "one retry");
    assert.notEqual(statuses[0], statuses[1], "with a new token");
    calls = 0;
    const stream = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode("x")); c.close(); } });
    assert.equal((await tm.fetch("https://api.example/x", { method: "POST", body: stream, duplex: "half" })).status, 401);
    assert.equal(calls, 1, "a stream body cannot be replayed");
  });

  it("bad options are invalid_argument", () => {
    for (const o of [undefined, {}, { auth: {} }, { auth, grant: "password" }, { auth, tokens: { access_token: "a" } }, { auth, refreshSkewMs: -1 },
      { auth, store: {} }, { auth, onTokens: 5 }, { auth, grant: "refresh_token" }]) {
      assert.throws(() => new lib.TokenManager(o), (e) => e instanceof lib.ApiException && e.kind === "invalid_argument");
    }
  });
});
