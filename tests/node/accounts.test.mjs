// AccountTokens (many accounts in one process) from the packed tarball: 10,000 accounts through a
// cache of 100 TokenManagers — memory bounded by the cache, every account renewed once with its
// own refresh token — plus independence under a held lease, the sign-in step, and bad input.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import { pathToFileURL } from "node:url";
import { SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { mapStores } from "../support/map-store.mjs";

const { AccountTokens, AvitoAuth, ApiException, TokenManager } = await import(pathToFileURL(path.join(SCRATCH, "esm.mjs")).href);
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");
let mock, auth;

before(async () => {
  mock = await startMockAvito();
  auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, retries: false });
});
after(() => mock.close());

const expired = () => ({ access_token: "expired", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1 });
const seedAll = async (make, ids) => {
  const seeded = new Map();
  for (const id of ids) {
    const set = expired();
    assert.equal(await make(id).compareAndSet(undefined, set), true);
    seeded.set(id, set.refresh_token);
  }
  return seeded;
};

/**
 * Collects garbage until the finalizers stop firing for 3 rounds in a row (bounded): a dropped
 * TokenManager handle is freed by wasm-bindgen's finaliser, which releases its store, which the
 * next collection frees.
 */
async function settleGarbage(count) {
  let last = -1;
  let still = 0;
  for (let i = 0; i < 60 && still < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
    still = count() === last ? still + 1 : 0;
    last = count();
  }
}

it("10,000 accounts in one process: memory bounded by the cache, each account renewed once with its own refresh token", async () => {
  mock.reset();
  const MAX = 100;
  const ids = Array.from({ length: 10_000 }, (_, i) => `seller-${i}`);
  const make = mapStores();
  const seeded = await seedAll(make, ids);
  // Every store the factory makes is watched: once its TokenManager is dropped, it is garbage.
  let made = 0;
  let collected = 0;
  const watch = new FinalizationRegistry(() => collected++);
  const accounts = new AccountTokens({
    auth,
    maxAccounts: MAX,
    store: (id) => {
      made++;
      const s = make(id);
      watch.register(s, id);
      return s;
    },
  });
  const tokens = new Map();
  let maxSize = 0;
  let peakLive = 0;
  const heap = [];
  for (let b = 0; b < ids.length; b += 250) {
    const batch = ids.slice(b, b + 250);
    const got = await Promise.all(batch.map((id) => accounts.manager(id).getAccessToken()));
    batch.forEach((id, i) => tokens.set(id, got[i]));
    maxSize = Math.max(maxSize, accounts.size);
    if ((b / 250) % 10 === 9) {
      await settleGarbage(() => collected);
      peakLive = Math.max(peakLive, made - collected);
      heap.push(process.memoryUsage().heapUsed);
    }
  }
  await settleGarbage(() => collected);
  const live = made - collected;
  assert.equal(maxSize, MAX, "the cache holds at most maxAccounts managers");
  assert.equal(made, 10_000, "one store per account, made on first use");
  assert.ok(live <= MAX, `${live} stores still reachable after 10,000 accounts (cache ${MAX})`);
  assert.ok(peakLive <= MAX, `peak ${peakLive} reachable stores`);
  // Every account renewed once, with its own refresh token, to its own new token.
  assert.equal(mock.counts.refresh, 10_000);
  const presented = new Set(mock.requests.map((r) => r.form.refresh_token));
  assert.equal(presented.size, 10_000, "10,000 distinct refresh tokens presented");
  for (const [id, rt] of seeded) assert.ok(presented.has(rt), `${id}'s own refresh token was presented`);
  assert.equal(new Set(tokens.values()).size, 10_000, "10,000 distinct access tokens");
  for (const id of ids) assert.equal(JSON.parse(make.rows.get(id).json).access_token, tokens.get(id), id);
  console.log(`[accounts] 10,000 accounts, cache ${MAX}: ${made} stores made, ${live} reachable at the end (peak ${peakLive}); heap after each 2,500 (with the in-process mock server's request log and the Map holding every account's set): ${heap.map((h) => (h / 2 ** 20).toFixed(1)).join(", ")} MiB`);
  // A cached account costs no request and no new store.
  const last = ids.at(-1);
  assert.equal(await accounts.manager(last).getAccessToken(), tokens.get(last));
  assert.equal(made, 10_000);
  assert.equal(mock.counts.refresh, 10_000);
});

it("accounts renew independently: one account waiting on another process's lease does not hold up another", async () => {
  mock.reset();
  const make = mapStores();
  await seedAll(make, ["a", "b"]);
  const other = await make("a").acquireLease(1500); // another process is renewing "a"
  assert.ok(other);
  const accounts = new AccountTokens({ auth, store: make, leaseMs: 1500 });
  const t0 = Date.now();
  let aDone = 0;
  const a = accounts.manager("a").getAccessToken().then((t) => ((aDone = Date.now() - t0), t));
  const b = await accounts.manager("b").getAccessToken();
  const bDone = Date.now() - t0;
  assert.match(b, /^at_/);
  assert.ok(bDone < 1000 && aDone === 0, `b took ${bDone} ms; a done at ${aDone}`);
  assert.match(await a, /^at_/, "a renews once the other process's lease expires");
  assert.ok(aDone >= 1400, `a took ${aDone} ms`);
  assert.equal(mock.counts.refresh, 2);
});

it("manager(id) hands out the cached manager's state; signIn stores a new set and the next manager uses it", async () => {
  mock.reset();
  const make = mapStores();
  const seen = [];
  const accounts = new AccountTokens({ auth, store: make, maxAccounts: 2, onTokens: (id, ts) => void seen.push([id, ts.access_token]) });
  await accounts.signIn("s1", expired());
  const first = accounts.manager("s1");
  assert.ok(first instanceof TokenManager);
  const t1 = await first.getAccessToken();
  assert.notEqual(accounts.manager("s1"), first, "a new handle each time");
  assert.equal(await accounts.manager("s1").getAccessToken(), t1, "sharing the cached token");
  assert.deepEqual(seen, [["s1", t1]], "onTokens gets the account id");
  assert.equal(accounts.size, 1);
  // The seller signs in again: the new set replaces the stored one, and the cached manager goes.
  const fresh = { access_token: "at_signed_in", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() + 86_400_000 };
  await accounts.signIn("s1", fresh);
  assert.equal(accounts.size, 0);
  assert.equal(await accounts.manager("s1").getAccessToken(), "at_signed_in");
  assert.equal(mock.counts.refresh, 1);
  assert.equal(accounts.forget("s1"), true);
  assert.equal(accounts.forget("s1"), false);
  // LRU: the least recently used account is the one dropped.
  await accounts.signIn("s2", expired());
  await accounts.signIn("s3", expired());
  accounts.manager("s2");
  accounts.manager("s3");
  accounts.manager("s2");
  accounts.manager("s1");
  assert.equal(accounts.size, 2);
  assert.equal(accounts.forget("s3"), false, "s3 was the least recently used");
  assert.equal(accounts.forget("s2"), true);
});

it("bad input is a typed invalid_argument error, with no secret in it", async () => {
  const bad = (fn, re) => {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof ApiException, String(e));
      assert.equal(e.kind, "invalid_argument");
      assert.match(e.message, re);
      assert.doesNotMatch(e.message, /demo-secret/);
      return;
    }
    assert.fail(`no error for ${re}`);
  };
  bad(() => new AccountTokens(), /store/);
  bad(() => new AccountTokens({ auth, store: {} }), /store must be a function/);
  bad(() => new AccountTokens({ store: () => ({}) }), /auth/);
  bad(() => new AccountTokens({ auth, store: mapStores(), maxAccounts: 0 }), /maxAccounts/);
  bad(() => new AccountTokens({ auth, store: mapStores(), maxAccounts: 1.5 }), /maxAccounts/);
  bad(() => new AccountTokens({ auth, store: mapStores(), leaseMs: -1 }), /leaseMs/);
  bad(() => new AccountTokens({ auth, store: mapStores(), onTokens: 1 }), /onTokens/);
  const accounts = new AccountTokens({ auth, store: (id) => (id === "bad" ? 42 : id === "half" ? { get() {} } : mapStores()(id)) });
  bad(() => accounts.manager(""), /accountId/);
  bad(() => accounts.manager(7), /accountId/);
  bad(() => accounts.manager("x".repeat(1025)), /accountId/);
  bad(() => accounts.manager("bad"), /store factory must return a store object/);
  bad(() => accounts.manager("half"), /store must implement compareAndSet/);
  await assert.rejects(accounts.signIn("a", { access_token: "only" }), (e) => e.kind === "invalid_argument" && /refresh_token/.test(e.message));
  await assert.rejects(accounts.signIn("", expired()), (e) => e.kind === "invalid_argument");
  const throwing = new AccountTokens({ auth, store: () => { throw new Error("factory failed"); } });
  assert.throws(() => throwing.manager("a"), /factory failed/);
  await assert.rejects(throwing.signIn("a", expired()), /factory failed/);
  // A store whose compare-and-set never wins: the sign-in gives up after a bounded number of tries.
  const losing = new AccountTokens({ auth, store: () => ({ get: async () => undefined, compareAndSet: async () => false, acquireLease: async () => undefined, releaseLease: async () => {} }) });
  await assert.rejects(losing.signIn("a", expired()), (e) => e instanceof ApiException && /kept changing/.test(e.message));
});
