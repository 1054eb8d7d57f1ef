// The store conformance kit: `verifyTokenStore(makeStore, options)` runs every promise of the
// store protocol (README "Keeping tokens fresh") against a store and throws one readable report
// naming each broken promise. `makeStore(key)` returns a store for the account `key`; called twice
// with the same key it must return two handles on the SAME stored data (as two processes would
// have), and each key the kit asks for is new. This module does not load the wasm.

const DEFAULTS = { leaseMs: 400, race: 8, timeoutMs: 5000, keyPrefix: "" };

/** The error `verifyTokenStore` throws: `results` holds every check, `failures` the broken ones. */
export class StoreConformanceError extends Error {
  constructor(results) {
    const failures = results.filter((r) => !r.ok);
    super(`the store broke ${failures.length} of ${results.length} promises of the store protocol:\n${report(results)}`);
    this.name = "StoreConformanceError";
    this.results = results;
    this.failures = failures;
  }
}

const report = (results) => results.map((r) => `  ${r.ok ? "ok  " : "FAIL"} ${r.name}${r.ok ? "" : `\n       ${r.detail}`}`).join("\n");

/** A failed expectation inside a check (its message is the report's detail line). */
class Broken extends Error {}
const expect = (cond, detail) => {
  if (!cond) throw new Broken(detail);
};

const show = (v) => {
  if (v === undefined) return "undefined";
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
};

/** Deep equality of JSON-like data (key order ignored, undefined members equal to absent ones). */
function same(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  const keys = (o) => Object.keys(o).filter((k) => o[k] !== undefined).sort();
  const ka = keys(a);
  const kb = keys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same(a[k], b[k]));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the protocol's checks; resolves to the list of results when every one holds, throws a
 * StoreConformanceError otherwise. Options: `leaseMs` (the short lease the expiry check waits
 * out, default 400), `race` (how many handles race, default 8), `timeoutMs` (the bound every
 * call must settle within, default 5000), `keyPrefix` (prepended to every key the kit uses).
 */
export async function verifyTokenStore(makeStore, options = {}) {
  if (typeof makeStore !== "function") throw new TypeError("verifyTokenStore(makeStore): makeStore must be a function key => store");
  const o = { ...DEFAULTS, ...options };
  for (const n of ["leaseMs", "race", "timeoutMs"]) {
    if (!Number.isFinite(o[n]) || o[n] <= 0) throw new TypeError(`verifyTokenStore: ${n} must be a positive number`);
  }
  if (!Number.isInteger(o.race) || o.race < 2 || o.race > 256) throw new TypeError("verifyTokenStore: race must be an integer from 2 to 256");
  const run = `${o.keyPrefix}avito-kit-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  let keys = 0;
  const newKey = (what) => `${run}-${++keys}-${what}`;

  // Every call goes through here: it must settle within the bound.
  const call = async (label, thunk) => {
    let timer;
    const bound = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Broken(`${label} did not settle within ${o.timeoutMs} ms`)), o.timeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(thunk), bound]);
    } catch (e) {
      if (e instanceof Broken) throw e;
      throw new Broken(`${label} rejected: ${e?.name ?? "Error"}: ${e?.message ?? String(e)}`);
    } finally {
      clearTimeout(timer);
    }
  };
  const open = async (key) => {
    const store = await call(`makeStore(${show(key)})`, () => makeStore(key));
    for (const m of ["get", "compareAndSet", "acquireLease", "releaseLease"]) {
      expect(store && typeof store[m] === "function", `makeStore(${show(key)}) returned a value without a ${m}() method`);
    }
    return {
      get: () => call("get()", () => store.get()),
      cas: (expected, next) => call("compareAndSet()", () => store.compareAndSet(expected, next)),
      acquire: (ttl) => call(`acquireLease(${ttl})`, () => store.acquireLease(ttl)),
      release: (id) => call("releaseLease()", () => store.releaseLease(id)),
    };
  };
  const set = (n, extra = {}) => ({ access_token: `at-${n}-${run}`, refresh_token: `rt-${n}-${run}`, token_type: "Bearer", expires_in: 86400, expires_at: 1_900_000_000_000 + n, ...extra });
  const isLeaseId = (v) => typeof v === "string" && v.length > 0;

  const checks = [
    ["get() on an empty store resolves to undefined", async () => {
      const s = await open(newKey("empty"));
      const v = await s.get();
      expect(v === undefined, `get() resolved to ${show(v)}`);
    }],
    ["compareAndSet(undefined, next) writes into an empty store, and only into an empty one", async () => {
      const key = newKey("from-empty");
      const [s, other] = [await open(key), await open(key)];
      const a = set(1);
      expect((await s.cas(undefined, a)) === true, "compareAndSet(undefined, next) on an empty store did not resolve to true");
      const got = await other.get();
      expect(same(got, a), `another handle read ${show(got)} after the write, not ${show(a)}`);
      expect((await other.cas(undefined, set(2))) === false, "compareAndSet(undefined, next) overwrote a stored set");
      expect((await other.cas(null, set(3))) === false, "compareAndSet(null, next) overwrote a stored set");
      expect(same(await s.get(), a), "a refused compareAndSet changed the stored set");
    }],
    ["compareAndSet refuses a stale expected value (access_token, refresh_token, renewal.id) and accepts the current one", async () => {
      const key = newKey("stale");
      const s = await open(key);
      const a = set(1);
      const b = set(2);
      await s.cas(undefined, a);
      const stale = [
        ["another access_token", { ...a, access_token: "at-other" }],
        ["another refresh_token", { ...a, refresh_token: "rt-other" }],
        ["no refresh_token (stored has one)", (({ refresh_token, ...rest }) => rest)(a)],
        ["a renewal.id (stored has none)", { ...a, renewal: { id: "r-1", presented_at: 1, answer_by: 2 } }],
      ];
      for (const [what, expected] of stale) {
        expect((await s.cas(expected, b)) === false, `compareAndSet with ${what} in expected resolved to true`);
      }
      expect(same(await s.get(), a), "a refused compareAndSet changed the stored set");
      const current = await s.get();
      expect((await s.cas(current, b)) === true, "compareAndSet(the value get() returned, next) did not resolve to true");
      expect(same(await s.get(), b), "the accepted compareAndSet did not store next");
      expect((await s.cas(a, set(3))) === false, "compareAndSet with the replaced set as expected resolved to true");
    }],
    ["compareAndSet compares renewal.id: a renewal mark with another id, or no mark, is stale", async () => {
      const key = newKey("renewal");
      const s = await open(key);
      const marked = set(1, { renewal: { id: "renewal-A", presented_at: 1_700_000_000_000, answer_by: 1_700_000_030_000 } });
      await s.cas(undefined, marked);
      const next = set(2);
      expect((await s.cas({ ...marked, renewal: { ...marked.renewal, id: "renewal-B" } }, next)) === false, "expected with another renewal.id matched");
      expect((await s.cas((({ renewal, ...rest }) => rest)(marked), next)) === false, "expected without the renewal mark matched a marked set");
      expect(same(await s.get(), marked), "a refused compareAndSet changed the stored set");
      expect((await s.cas(marked, next)) === true, "expected with the same renewal.id did not match");
      expect(same(await s.get(), next), "the accepted compareAndSet did not store next");
    }],
    ["values round-trip exactly: unknown members, nested objects, renewal marks, refresh_refused_at", async () => {
      const key = newKey("round-trip");
      const [s, other] = [await open(key), await open(key)];
      const rich = {
        ...set(1),
        scope: "messenger:read,items:info",
        renewal: { id: "renewal-Ж-1", presented_at: 1_700_000_000_123, answer_by: 1_700_000_030_123 },
        user_data: { seller: 42, tags: ["a", "b", { deep: [1, 2.5, -3] }], flag: true, nothing: null, text: "Привет 👋 \"quoted\" \\ back" },
      };
      await s.cas(undefined, rich);
      let got = await other.get();
      expect(same(got, rich), `stored ${show(rich)}\n       read   ${show(got)}`);
      const refused = { ...(({ refresh_token, renewal, ...rest }) => rest)(rich), refresh_refused_at: 1_700_000_040_000 };
      expect((await other.cas(got, refused)) === true, "compareAndSet(what get() returned, next) did not resolve to true");
      got = await s.get();
      expect(same(got, refused), `stored ${show(refused)}\n       read   ${show(got)}`);
      expect((await s.cas(got, set(5))) === true, "a set without refresh_token could not be replaced through compareAndSet(get(), next)");
    }],
    [`compareAndSet racing from ${o.race} handles: exactly one wins, and its value is stored`, async () => {
      for (const from of ["empty", "stored"]) {
        const key = newKey(`race-${from}`);
        const handles = await Promise.all(Array.from({ length: o.race }, () => open(key)));
        const base = from === "stored" ? set(0) : undefined;
        if (base) await handles[0].cas(undefined, base);
        const nexts = handles.map((_, i) => set(100 + i));
        const won = await Promise.all(handles.map((h, i) => h.cas(base, nexts[i])));
        const winners = won.flatMap((w, i) => (w === true ? [i] : []));
        expect(winners.length === 1, `from ${from}: ${winners.length} of ${o.race} racing compareAndSet calls resolved to true`);
        expect(won.every((w) => w === true || w === false), `from ${from}: compareAndSet resolved to ${show(won.find((w) => w !== true && w !== false))}, not a boolean`);
        const got = await handles[0].get();
        expect(same(got, nexts[winners[0]]), `from ${from}: the store holds ${show(got)}, not the winner's value`);
      }
    }],
    ["accounts are independent: another key's set and lease do not interfere", async () => {
      const [a, b] = [await open(newKey("acct-a")), await open(newKey("acct-b"))];
      await a.cas(undefined, set(1));
      expect((await b.get()) === undefined, "a set written under one key is visible under another");
      expect((await b.cas(undefined, set(2))) === true, "compareAndSet(undefined) under a fresh key was refused because another key holds a set");
      const la = await a.acquire(10_000);
      expect(isLeaseId(la), `acquireLease on a free store resolved to ${show(la)}, not a lease id`);
      const lb = await b.acquire(10_000);
      expect(isLeaseId(lb), "a lease held under one key blocked the lease of another key");
      await a.release(la);
      await b.release(lb);
    }],
    ["the lease is exclusive and is released only by its own id", async () => {
      const key = newKey("lease");
      const [s, other] = [await open(key), await open(key)];
      const id = await s.acquire(10_000);
      expect(isLeaseId(id), `acquireLease on a free store resolved to ${show(id)}, not a non-empty string`);
      const second = await other.acquire(10_000);
      expect(second === undefined, `a second acquireLease while the first is live resolved to ${show(second)}`);
      await other.release(`${id}-not-mine`);
      await other.release("");
      expect((await other.acquire(10_000)) === undefined, "releaseLease with another id released the live lease");
      await s.release(id);
      const next = await other.acquire(10_000);
      expect(isLeaseId(next), "after releaseLease(its id) the lease could not be taken again");
      expect(next !== id, "a new lease got the id of the released one");
      await other.release(next);
    }],
    [`the lease is exclusive under a race of ${o.race} handles`, async () => {
      const key = newKey("lease-race");
      const handles = await Promise.all(Array.from({ length: o.race }, () => open(key)));
      const ids = await Promise.all(handles.map((h) => h.acquire(10_000)));
      const granted = ids.filter((x) => x !== undefined);
      expect(granted.length === 1, `${granted.length} of ${o.race} racing acquireLease calls got a lease`);
      await handles[ids.findIndex((x) => x !== undefined)].release(granted[0]);
    }],
    [`the lease expires after its ttl (${o.leaseMs} ms), and a stale id does not release the next holder's lease`, async () => {
      const key = newKey("lease-expiry");
      const [s, other] = [await open(key), await open(key)];
      const first = await s.acquire(o.leaseMs);
      expect(isLeaseId(first), `acquireLease resolved to ${show(first)}`);
      expect((await other.acquire(o.leaseMs)) === undefined, "the lease was granted twice before it expired");
      // Bounded wait: the ttl, then up to 3 s more (stores with a lazy or coarse clock).
      const t0 = Date.now();
      await sleep(o.leaseMs);
      let second;
      while (second === undefined && Date.now() - t0 < o.leaseMs + 3000) {
        second = await other.acquire(60_000);
        if (second === undefined) await sleep(50);
      }
      expect(isLeaseId(second), `the lease was still held ${Date.now() - t0} ms after a ${o.leaseMs} ms lease was granted`);
      await s.release(first); // the expired holder comes back late
      expect((await s.acquire(60_000)) === undefined, "releaseLease with an expired lease's id released the next holder's lease");
      await other.release(second);
    }],
  ];

  const results = [];
  for (const [name, check] of checks) {
    const t0 = Date.now();
    try {
      await check();
      results.push({ name, ok: true, ms: Date.now() - t0 });
    } catch (e) {
      const detail = e instanceof Broken ? e.message : `the check threw ${e?.name ?? "Error"}: ${e?.message ?? String(e)}`;
      results.push({ name, ok: false, detail, ms: Date.now() - t0 });
    }
  }
  if (results.some((r) => !r.ok)) throw new StoreConformanceError(results);
  return results;
}
