// Watching your sellers (issue 21, parts 1 and 2): the events a TokenManager and AccountTokens
// report (onEvent and node:diagnostics_channel, ESM and CJS), the TracingChannel of renewals, the
// counters, status() from the stored set, and the secret sweep over every event. Against the mock
// Avito on 127.0.0.1, from the packed tarball.
import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import diagnostics from "node:diagnostics_channel";
import { inspect } from "node:util";
import { startMockAvito } from "../support/mock-avito.mjs";
import { loadBoth } from "../support/load.mjs";

const { esm, cjs } = await loadBoth();
const SELF = "/core/v1/accounts/self"; // GET, declares user:read
const SECRET = "demo-secret";

/** Every secret a test saw: no event may carry one, in any rendering. */
const secrets = new Set([SECRET]);
const remember = (set) => {
  for (const k of ["access_token", "refresh_token"]) if (typeof set?.[k] === "string") secrets.add(set[k]);
  return set;
};
function sweep(events) {
  for (const event of events) {
    const renderings = [JSON.stringify(event), inspect(event, { depth: 5 }), String(Object.values(event))];
    for (const secret of secrets) {
      for (const text of renderings) assert.ok(!text.includes(secret), `an event carries a secret: ${JSON.stringify(event)}`);
    }
    assert.ok(!/[?&]q=|[?]a=1/.test(JSON.stringify(event)), `an event carries a URL query: ${JSON.stringify(event)}`);
    assert.equal(typeof event.type, "string");
    assert.equal(typeof event.at, "number");
    assert.ok(Object.isFrozen(event), "events are frozen");
  }
}
const types = (events) => events.map((e) => e.type);

let mock, auth;
before(async () => {
  mock = await startMockAvito();
  auth = new esm.AvitoAuth({ clientId: "demo-client", clientSecret: SECRET, host: mock.url });
});
after(() => mock.close());
beforeEach(() => mock.reset());

const signIn = async (scope) => remember(await auth.exchangeCode(mock.grantCode("demo-client", scope)));
const expired = (set) => ({ ...set, expires_at: Date.now() - 1 });

describe("events to onEvent", () => {
  const all = [];
  after(() => sweep(all));

  it("a renewal: renewal_started, then renewal_finished renewed with its duration and presentations; tokens served are counted", async () => {
    const events = [];
    const tm = new esm.TokenManager({ auth, tokens: expired(await signIn()), onEvent: (e) => events.push(e) });
    remember({ access_token: await tm.getAccessToken() });
    assert.deepEqual(types(events), ["renewal_started", "renewal_finished"]);
    const [started, finished] = events;
    assert.equal(started.renewalId, finished.renewalId);
    assert.equal(typeof started.renewalId, "string");
    assert.equal(finished.outcome, "renewed");
    assert.equal(finished.presentations, 1);
    assert.ok(finished.durationMs >= 0 && finished.waitedMs >= 0);
    assert.equal(finished.kind, undefined);
    assert.equal(started.accountId, undefined, "a TokenManager of its own names no account");
    events.length = 0;
    await tm.getAccessToken();
    await tm.authorizationHeader();
    assert.deepEqual(events.map((e) => [e.type, e.source]), [["token_served", "memory"], ["token_served", "memory"]]);
    const status = await tm.status();
    assert.equal(status.servedFromMemory, 2);
    assert.equal(status.servedFromStore, 0);
    all.push(started, finished, ...events);
  });

  it("a failed renewal: renewal_finished failed with the ApiException's kind, status and error", async () => {
    const events = [];
    const tm = new esm.TokenManager({ auth, tokens: expired(await signIn()), onEvent: (e) => events.push(e) });
    mock.script({ status: 400, json: { error: "invalid_client", error_description: `no ${SECRET}` } });
    await assert.rejects(tm.getAccessToken(), (e) => e.kind === "oauth");
    const finished = events.find((e) => e.type === "renewal_finished");
    assert.deepEqual({ outcome: finished.outcome, kind: finished.kind, status: finished.status, error: finished.error }, { outcome: "failed", kind: "oauth", status: 400, error: "invalid_client" });
    all.push(...events);
  });

  it("sign_in_required: refused (invalid_grant), none_stored, signed_out; signed_out on a sign-out", async () => {
    const events = [];
    const onEvent = (e) => events.push(e);
    const tm = new esm.TokenManager({ auth, tokens: expired(await signIn()), onEvent });
    mock.script({ status: 400, json: { error: "invalid_grant" } });
    await assert.rejects(tm.getAccessToken(), (e) => e.signInRequired);
    assert.deepEqual(events.filter((e) => e.type === "sign_in_required").map((e) => e.reason), ["refused"]);
    await assert.rejects(tm.getAccessToken(), (e) => e.kind === "sign_in_required");
    assert.deepEqual(events.filter((e) => e.type === "sign_in_required").map((e) => e.reason), ["refused", "refused"], "a refusal recorded earlier");

    events.length = 0;
    const empty = new esm.TokenManager({ auth, grant: "refresh_token", store: new esm.MemoryTokenStore(), onEvent });
    await assert.rejects(empty.getAccessToken(), (e) => e.kind === "sign_in_required");
    assert.deepEqual(events.map((e) => [e.type, e.reason]), [["sign_in_required", "none_stored"]]);

    events.length = 0;
    const out = new esm.TokenManager({ auth, tokens: await signIn(), onEvent });
    await out.getAccessToken();
    await out.signOut();
    await assert.rejects(out.getAccessToken(), (e) => e.kind === "sign_in_required");
    assert.deepEqual(events.filter((e) => e.type !== "token_served").map((e) => [e.type, e.reason]), [["signed_out", undefined], ["sign_in_required", "signed_out"]]);
    all.push(...events);
  });

  it("store_error: the call and the store's message, redacted", async () => {
    const events = [];
    const tokens = expired(await signIn());
    const store = new esm.MemoryTokenStore(tokens);
    const failing = { get: () => Promise.reject(new Error(`database down while reading ${tokens.refresh_token}`)), compareAndSet: store.compareAndSet.bind(store), acquireLease: store.acquireLease.bind(store), releaseLease: store.releaseLease.bind(store) };
    const tm = new esm.TokenManager({ auth, grant: "refresh_token", tokens, store: failing, onEvent: (e) => events.push(e) });
    await assert.rejects(tm.getAccessToken(), (e) => e.kind === "store");
    const error = events.find((e) => e.type === "store_error");
    assert.equal(error.call, "get");
    assert.match(error.error, /database down while reading \[redacted\]/);
    await assert.rejects(tm.status(), (e) => e.kind === "store");
    assert.equal(events.filter((e) => e.type === "store_error").length, 2, "status() reports it too");
    all.push(...events);
  });

  it("api_refused: a missing scope handed back (no renewal), a granted one recovered; path without its query", async () => {
    mock.apiScopes = { [SELF]: "user:read" };
    const events = [];
    const tm = new esm.TokenManager({ auth, tokens: await signIn("messenger:read"), onEvent: (e) => events.push(e) });
    const res = await tm.fetch(`${mock.url}${SELF}?q=${SECRET}`);
    assert.equal(res.status, 403);
    const refused = events.find((e) => e.type === "api_refused");
    assert.deepEqual(
      { status: refused.status, method: refused.method, path: refused.path, action: refused.action, reason: refused.reason, missingScopes: refused.missingScopes },
      { status: 403, method: "GET", path: SELF, action: "handed_back", reason: "missing_scopes", missingScopes: ["user:read"] },
    );
    assert.equal(mock.counts.token, 1, "only the sign-in's request");
    // Recorded in the stored set's health: status() says so.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual((await tm.status()).missingScopes, ["user:read"]);

    events.length = 0;
    const granted = new esm.TokenManager({ auth, tokens: await signIn("messenger:read,user:read"), onEvent: (e) => events.push(e) });
    assert.equal((await granted.fetch(`${mock.url}${SELF}`)).status, 200);
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    assert.equal((await granted.fetch(`${mock.url}${SELF}`, { method: "GET" })).status, 200);
    const recovered = events.find((e) => e.type === "api_refused");
    assert.deepEqual([recovered.action, recovered.reason, recovered.missingScopes], ["recovered", "renewed", undefined]);
    assert.ok(events.some((e) => e.type === "renewal_finished" && e.outcome === "renewed"));
    all.push(...events);
  });

  it("a listener that throws or rejects changes nothing", async () => {
    let calls = 0;
    const tm = new esm.TokenManager({ auth, tokens: expired(await signIn()), onEvent: () => { calls++; throw new Error("listener bug"); } });
    assert.equal(typeof remember({ access_token: await tm.getAccessToken() }).access_token, "string");
    const rejecting = new esm.TokenManager({ auth, tokens: expired(await signIn()), onEvent: async () => { calls++; throw new Error("async listener bug"); } });
    await rejecting.getAccessToken();
    await new Promise((r) => setTimeout(r, 10)); // an unhandled rejection would fail this file
    assert.ok(calls >= 4);
  });

  it("onEvent must be a function", () => {
    assert.throws(() => new esm.TokenManager({ auth, onEvent: 42 }), (e) => e.kind === "invalid_argument" && /onEvent must be a function/.test(e.message));
  });
});

describe("AccountTokens: every manager's events carry its accountId", () => {
  it("renewals, a sign-out of a cached and of an uncached account, status(id)", async () => {
    const events = [];
    const stores = new Map();
    const accounts = new esm.AccountTokens({ auth, store: (id) => stores.get(id) ?? stores.set(id, new esm.MemoryTokenStore()).get(id), onEvent: (e) => events.push(e) });
    await accounts.signIn("seller-1", expired(await signIn()));
    await accounts.signIn("seller-2", await signIn());
    remember({ access_token: await accounts.manager("seller-1").getAccessToken() });
    assert.deepEqual(events.map((e) => [e.type, e.accountId]), [["renewal_started", "seller-1"], ["renewal_finished", "seller-1"]]);
    const one = await accounts.status("seller-1");
    assert.equal(one.state, "ok");
    assert.equal(one.consecutiveFailures, 0);
    assert.ok(one.lastRenewalAt > 0);
    await accounts.signOut("seller-1"); // cached
    await accounts.signOut("seller-2"); // never used here
    assert.deepEqual(events.filter((e) => e.type === "signed_out").map((e) => e.accountId), ["seller-1", "seller-2"]);
    assert.equal((await accounts.status("seller-2")).state, "signed_out");
    assert.equal((await accounts.status("nobody")).state, "empty");
    assert.equal(accounts.size, 0, "status() of an uncached account makes no manager");
    sweep(events);
  });
});

describe("node:diagnostics_channel", () => {
  for (const [name, lib] of [["ESM", esm], ["CJS", cjs]]) {
    it(`${name}: every event on "avito-auth:event", a renewal's trace on "avito-auth:renewal"`, async () => {
      const auth = new lib.AvitoAuth({ clientId: "demo-client", clientSecret: SECRET, host: mock.url });
      const published = [];
      const onMessage = (m) => published.push(m);
      const traced = [];
      const tracer = Object.fromEntries(["start", "end", "asyncStart", "asyncEnd", "error"].map((c) => [c, (ctx) => traced.push([c, { ...ctx }])]));
      diagnostics.subscribe("avito-auth:event", onMessage);
      diagnostics.tracingChannel("avito-auth:renewal").subscribe(tracer);
      try {
        const tm = new lib.TokenManager({ auth, tokens: expired(await signIn()) });
        remember({ access_token: await tm.getAccessToken() });
        await tm.getAccessToken();
        assert.deepEqual(types(published), ["renewal_started", "renewal_finished"], "a token from memory is only counted without onEvent");
        assert.deepEqual(traced.map(([c]) => c), ["start", "end", "asyncStart", "asyncEnd"]);
        assert.equal(traced[3][1].outcome, "renewed");
        assert.equal(traced[3][1].renewalId, published[0].renewalId);
        const refused = new lib.TokenManager({ auth, tokens: expired(await signIn()) });
        mock.script({ status: 400, json: { error: "invalid_grant" } });
        await assert.rejects(refused.getAccessToken());
        assert.ok(traced.some(([c, ctx]) => c === "error" && ctx.error instanceof lib.ApiException && ctx.kind === "oauth"));
        assert.ok(published.some((e) => e.type === "sign_in_required" && e.reason === "refused"));
        sweep(published);
        sweep(traced.map(([, ctx]) => ({ ...ctx, type: "trace", at: 0, error: ctx.error && JSON.stringify(ctx.error) })).map(Object.freeze));
      } finally {
        diagnostics.unsubscribe("avito-auth:event", onMessage);
        diagnostics.tracingChannel("avito-auth:renewal").unsubscribe(tracer);
      }
    });
  }
});

describe("status() from the stored set", () => {
  it("ok → failing (kind, status, error, consecutiveFailures) → ok → sign_in_required → signed_out; nothing secret", async () => {
    const tokens = await signIn();
    const store = new esm.MemoryTokenStore(expired(tokens));
    const tm = new esm.TokenManager({ auth, grant: "refresh_token", store });
    // Another manager on the same store answers the same: the store is the truth.
    const other = new esm.TokenManager({ auth, grant: "refresh_token", store });
    let s = await other.status();
    assert.equal(s.state, "ok");
    assert.deepEqual(s.scopes, ["messenger:read", "user:read"]);
    assert.equal(s.lastRenewalAt, null);
    assert.equal(s.lastFailure, null);
    const unavailable = { status: 503, json: { error: "temporarily_unavailable" } };
    mock.script(unavailable, unavailable, unavailable); // every attempt of the retry policy
    await assert.rejects(tm.getAccessToken(), (e) => e.kind === "http");
    s = await other.status();
    assert.equal(s.state, "failing");
    assert.equal(s.consecutiveFailures, 1);
    assert.deepEqual({ ...s.lastFailure, at: typeof s.lastFailure.at }, { at: "number", kind: "http", status: 503, error: "temporarily_unavailable" });
    remember({ access_token: await tm.getAccessToken() });
    s = await other.status();
    assert.equal(s.state, "ok");
    assert.equal(s.consecutiveFailures, 0);
    assert.ok(s.lastRenewalAt >= s.lastFailure.at, "the last failure stays on record");
    assert.ok(s.expiresAt > Date.now());
    await fetch(`${mock.url}/__expire`, { method: "POST" });
    await tm.invalidate();
    mock.script({ status: 400, json: { error: "invalid_grant" } });
    await assert.rejects(tm.getAccessToken(), (e) => e.signInRequired);
    s = await other.status();
    assert.equal(s.state, "sign_in_required");
    assert.equal(s.lastFailure.error, "invalid_grant");
    await other.signOut();
    s = await tm.status();
    assert.equal(s.state, "signed_out");
    for (const secret of secrets) assert.ok(!JSON.stringify(s).includes(secret));
    const empty = new esm.TokenManager({ auth, grant: "refresh_token", store: new esm.MemoryTokenStore() });
    assert.equal((await empty.status()).state, "empty");
  });

  it("renewing while another renewer's mark is live", async () => {
    const tokens = await signIn();
    const marked = { ...expired(tokens), renewal: { id: "someone.1", presented_at: Date.now(), answer_by: Date.now() + 60_000 } };
    const tm = new esm.TokenManager({ auth, grant: "refresh_token", store: new esm.MemoryTokenStore(marked) });
    assert.equal((await tm.status()).state, "renewing");
  });
});
