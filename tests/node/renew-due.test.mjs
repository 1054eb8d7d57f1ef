// accounts.renewDue (renewal ahead of time) from the packed tarball, in one process against the
// mock token server: what is due is read from each seller's stored set; every seller gets one
// result; fresh sellers are left alone; refused and signed-out ones are sign_in_required; at most
// `concurrency` renewals at once; the signal stops what has not started; bad input is refused.
// The fleet test (4 processes, PostgreSQL, live traffic) is tests/fleet/renew-due.test.mjs.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { mapStores } from "../support/map-store.mjs";

const { AccountTokens, AvitoAuth, ApiException } = await import(pathToFileURL(path.join(SCRATCH, "esm.mjs")).href);
const MIN = 60_000;
let mock, auth;

before(async () => {
  mock = await startMockAvito();
  auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, retries: false });
});
after(() => mock.close());

const expiringIn = (ms, refresh_token = mock.grantRefresh()) => ({ access_token: `at-${Math.random()}`, refresh_token, token_type: "Bearer", expires_in: 86400, expires_at: Date.now() + ms });
const presented = () => mock.requests.filter((r) => r.form.grant_type === "refresh_token").map((r) => r.form.refresh_token);

async function fleet(sets, extra = {}) {
  const make = mapStores();
  for (const [id, set] of Object.entries(sets)) if (set !== undefined) assert.equal(await make(id).compareAndSet(undefined, set), true);
  // The managers' store reads are counted (the test's own reads are not).
  const reads = new Map();
  const counted = (id) => {
    const store = make(id);
    return { ...store, get: () => (reads.set(id, (reads.get(id) ?? 0) + 1), store.get()) };
  };
  const accounts = new AccountTokens({ auth, store: counted, ...extra });
  return { make, accounts, reads, read: async (id) => make(id).get() };
}
/** An AvitoAuth whose token requests go through `fetch`. */
const authWith = (fetch) => new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, retries: false, fetch });

it("due is read from the stored set: renewed, fresh, sign_in_required and failed, one result per seller in the order given", async () => {
  mock.reset();
  const sets = {
    soon: expiringIn(10 * MIN),
    expired: expiringIn(-MIN),
    edge: expiringIn(59 * MIN), // inside the default hour
    fresh: expiringIn(2 * 60 * MIN),
    "refused-now": expiringIn(5 * MIN, "rt_the_server_does_not_know"),
    "refused-earlier": { access_token: "gone", token_type: "Bearer", expires_at: Date.now() - 1, refresh_refused_at: Date.now() - 1000 },
    "signed-out": { signed_out_at: Date.now() - 5000 },
    // No refresh token, an access token good for hours: nothing can renew it.
    "no-refresh-token": { access_token: "valid-for-hours", token_type: "Bearer", expires_at: Date.now() + 5 * 60 * MIN },
    "never-stored": undefined,
  };
  const { make, accounts, reads, read } = await fleet(sets);
  const freshBefore = await read("fresh");
  const ids = Object.keys(sets);
  const cached = accounts.manager("soon");
  assert.equal(accounts.size, 1);
  const results = await accounts.renewDue(ids);
  assert.equal(accounts.size, 1, "the run cached no manager of its own");
  assert.deepEqual(results.map((r) => r.accountId), ids, "one result per seller, in the order of ids");
  const by = Object.fromEntries(results.map((r) => [r.accountId, r]));
  for (const id of ["soon", "expired", "edge"]) {
    assert.equal(by[id].result, "renewed", `${id}: ${JSON.stringify(by[id])}`);
    const now = await read(id);
    assert.notEqual(now.refresh_token, sets[id].refresh_token, `${id}: the rotated set is stored`);
    assert.ok(now.expires_at > Date.now() + 23 * 60 * MIN);
    assert.equal(now.renewal, undefined, "no mark left behind");
  }
  assert.deepEqual(by.fresh, { accountId: "fresh", result: "fresh" });
  assert.deepEqual(await read("fresh"), freshBefore, "a fresh seller's set is untouched");
  for (const id of ["refused-now", "refused-earlier", "signed-out", "never-stored", "no-refresh-token"]) assert.deepEqual(by[id], { accountId: id, result: "sign_in_required" }, id);
  // The server refused one refresh token: the refusal is recorded as for any renewal.
  assert.equal((await read("refused-now")).refresh_token, undefined);
  assert.ok((await read("refused-now")).refresh_refused_at > 0);
  assert.equal((await read("signed-out")).signed_out_at, sets["signed-out"].signed_out_at, "a tombstone stays");
  assert.equal(await make("never-stored").get(), undefined, "nothing is written for a seller never signed in");
  // Exactly the due sellers' refresh tokens were presented, each once; nobody else's.
  assert.deepEqual(presented().sort(), [sets.soon, sets.expired, sets.edge, sets["refused-now"]].map((s) => s.refresh_token).sort());
  // A renewed seller's next call finds the renewed set: no renewal.
  const before = mock.counts.refresh;
  const readsOfSoon = reads.get("soon");
  assert.equal(await cached.getAccessToken(), (await read("soon")).access_token);
  assert.equal(reads.get("soon"), readsOfSoon, "the cached manager was the one renewed: it holds the new tokens");
  assert.equal(await accounts.manager("edge").getAccessToken(), (await read("edge")).access_token);
  assert.equal(mock.counts.refresh, before);
  // A second run finds them all fresh, and sends nothing.
  const again = await accounts.renewDue(["soon", "expired", "edge", "fresh"]);
  assert.deepEqual(again.map((r) => r.result), ["fresh", "fresh", "fresh", "fresh"]);
  assert.equal(mock.counts.refresh, before);
});

it("within sets the window; a failed renewal is failed with its kind and error, and the set is kept", async () => {
  mock.reset();
  const sets = { a: expiringIn(30 * MIN), b: expiringIn(3 * 60 * MIN), c: expiringIn(10 * MIN) };
  const { accounts, read } = await fleet(sets);
  // 20 minutes: only c is due.
  const r1 = await accounts.renewDue(["a", "b", "c"], { within: 20 * MIN });
  assert.deepEqual(r1.map((r) => r.result), ["fresh", "fresh", "renewed"]);
  // 4 hours: a and b are due. The token server is down (503) for a: nothing was spent, and the
  // still-valid set stays stored, but the result says the renewal failed (not "fresh").
  mock.script({ status: 503, json: { error: "temporarily_unavailable" } });
  const r2 = await accounts.renewDue(["a"], { within: 4 * 60 * MIN });
  assert.equal(r2[0].result, "failed");
  assert.equal(r2[0].kind, "http");
  assert.ok(r2[0].error instanceof ApiException);
  assert.equal(r2[0].error.status, 503);
  const kept = await read("a");
  assert.equal(kept.refresh_token, sets.a.refresh_token, "the refresh token is untouched");
  assert.equal(kept.renewal, undefined);
  const r3 = await accounts.renewDue(["a", "b"], { within: 4 * 60 * MIN });
  assert.deepEqual(r3.map((r) => r.result), ["renewed", "renewed"]);
  // within: 0 renews only what has expired.
  assert.deepEqual((await accounts.renewDue(["a", "b", "c"], { within: 0 })).map((r) => r.result), ["fresh", "fresh", "fresh"]);
  // A store that fails: failed, kind store.
  const broken = new AccountTokens({ auth, store: () => ({ get: async () => { throw new Error("db down"); }, compareAndSet: async () => false, acquireLease: async () => "l", releaseLease: async () => {} }) });
  const [r4] = await broken.renewDue(["x"]);
  assert.equal(r4.result, "failed");
  assert.equal(r4.kind, "store");
  assert.match(r4.error.message, /db down/);
});

it("at most `concurrency` renewals at once, and live traffic beside them costs no second presentation", async () => {
  mock.reset();
  mock.tokenDelayMs = 30;
  const ids = Array.from({ length: 40 }, (_, i) => `s-${i}`);
  const sets = Object.fromEntries(ids.map((id) => [id, expiringIn(id.endsWith("0") ? -1 : 20 * MIN)]));
  let inFlight = 0, most = 0;
  const fetch = async (input, init) => {
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      return await globalThis.fetch(input, init);
    } finally {
      inFlight--;
    }
  };
  const { accounts, read } = await fleet(sets, { auth: authWith(fetch) });
  // Live callers ask for tokens while renewDue runs: the expired ones (s-0, s-10, …) need a
  // renewal now, the others are served their still-valid token.
  const live = Promise.all(ids.map((id) => accounts.manager(id).getAccessToken()));
  const results = await accounts.renewDue(ids, { concurrency: 3 });
  const tokens = await live;
  mock.tokenDelayMs = 0;
  assert.ok(most >= 1 && most <= 3 + ids.filter((id) => id.endsWith("0")).length, `at most 3 renewals of renewDue at once (plus the live ones): ${most}`);
  assert.ok(results.every((r) => r.result === "renewed" || r.result === "fresh"), JSON.stringify(results.filter((r) => r.result !== "renewed" && r.result !== "fresh")));
  const counted = new Map();
  for (const t of presented()) counted.set(t, (counted.get(t) ?? 0) + 1);
  for (const id of ids) assert.equal(counted.get(sets[id].refresh_token), 1, `${id}: its refresh token presented once`);
  assert.equal(mock.counts.refresh, ids.length);
  for (const [i, id] of ids.entries()) {
    const now = await read(id);
    assert.ok(now.expires_at > Date.now() + 23 * 60 * MIN, id);
    if (!id.endsWith("0")) assert.equal(tokens[i], sets[id].access_token, "a still-valid token is served while renewDue runs");
  }
  // Without live traffic: the bound is exact.
  mock.reset();
  most = 0;
  const more = Object.fromEntries(ids.map((id) => [id, expiringIn(5 * MIN)]));
  const second = await fleet(more, { auth: authWith(fetch) });
  mock.tokenDelayMs = 30;
  const r = await second.accounts.renewDue(ids, { concurrency: 2 });
  mock.tokenDelayMs = 0;
  assert.ok(most >= 1 && most <= 2, `concurrency 2: ${most} at once`);
  assert.equal(r.filter((x) => x.result === "renewed").length, ids.length);
});

it("the signal: nothing starts once it fired, renewals started finish, and each seller still gets a result", async () => {
  mock.reset();
  const ids = Array.from({ length: 12 }, (_, i) => `a-${i}`);
  const sets = Object.fromEntries(ids.map((id) => [id, expiringIn(5 * MIN)]));
  const controller = new AbortController();
  let sent = 0;
  // Aborted as the second token request goes out: the renewals running finish (their sets are
  // stored), the rest never start.
  const fetch = async (input, init) => {
    if (++sent === 2) controller.abort();
    return globalThis.fetch(input, init);
  };
  const { accounts, read } = await fleet(sets, { auth: authWith(fetch) });
  const already = await accounts.renewDue(ids, { signal: AbortSignal.abort() });
  assert.equal(already.length, ids.length);
  for (const r of already) {
    assert.equal(r.result, "failed");
    assert.equal(r.kind, "aborted");
    assert.ok(r.error instanceof ApiException && r.error.kind === "aborted");
  }
  assert.equal(mock.counts.token, 0, "nothing was sent");
  const results = await accounts.renewDue(ids, { concurrency: 1, signal: controller.signal });
  assert.deepEqual(results.map((r) => r.accountId), ids);
  const renewed = results.filter((r) => r.result === "renewed");
  const aborted = results.filter((r) => r.kind === "aborted");
  assert.equal(renewed.length, 2, JSON.stringify(results.map((r) => r.result)));
  assert.equal(aborted.length, ids.length - 2);
  assert.equal(mock.counts.refresh, 2);
  for (const r of renewed) assert.notEqual((await read(r.accountId)).refresh_token, sets[r.accountId].refresh_token);
  for (const r of aborted) assert.deepEqual(await read(r.accountId), sets[r.accountId], "untouched");
});

it("bad input is refused with invalid_argument before anything is read", async () => {
  mock.reset();
  let made = 0;
  const accounts = new AccountTokens({ auth, store: () => (made++, mapStores()("k")) });
  const invalid = (pattern) => (e) => e instanceof ApiException && e.kind === "invalid_argument" && pattern.test(e.message);
  await assert.rejects(accounts.renewDue("a"), invalid(/ids must be an array of at most 100000 account ids/));
  await assert.rejects(accounts.renewDue(), invalid(/ids must be an array/));
  await assert.rejects(accounts.renewDue(new Array(100_001).fill("x")), invalid(/at most 100000/));
  await assert.rejects(accounts.renewDue(["a", ""]), invalid(/accountId must be a non-empty string/));
  await assert.rejects(accounts.renewDue(["a", 7]), invalid(/accountId must be a non-empty string/));
  await assert.rejects(accounts.renewDue(["a"], { within: -1 }), invalid(/within must be a number of milliseconds from 0 to 86400000/));
  await assert.rejects(accounts.renewDue(["a"], { within: 86_400_001 }), invalid(/within must be/));
  await assert.rejects(accounts.renewDue(["a"], { within: "1h" }), invalid(/within must be/));
  await assert.rejects(accounts.renewDue(["a"], { within: NaN }), invalid(/within must be/));
  for (const concurrency of [0, 65, 1.5, "2"]) await assert.rejects(accounts.renewDue(["a"], { concurrency }), invalid(/concurrency must be an integer from 1 to 64/), String(concurrency));
  await assert.rejects(accounts.renewDue(["a"], { signal: {} }), invalid(/signal must be an AbortSignal/));
  await assert.rejects(accounts.renewDue(["a"], { concurency: 2 }), invalid(/unknown option "concurency"/));
  await assert.rejects(accounts.renewDue(["a"], 5), invalid(/renewDue options must be an object/));
  const hostile = new Proxy(["a"], { get() { throw new Error("boom"); } });
  await assert.rejects(accounts.renewDue(hostile), invalid(/ids must be an array/));
  assert.equal(made, 0, "no store was made");
  // An empty list resolves to no results.
  assert.deepEqual(await accounts.renewDue([]), []);
  assert.equal(mock.counts.token, 0);
});
