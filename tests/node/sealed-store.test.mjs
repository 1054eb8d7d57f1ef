// sealedStore from the packed tarball (ESM and CommonJS), in one process, against the mock Avito on
// 127.0.0.1: what it writes to the store it wraps holds no token and no 8-character piece of one;
// it passes the conformance kit; every record that does not open (a changed byte, a cut value, a
// record moved to another seller, an unknown key id, plaintext) is a `store` ApiException naming
// the key id and the context and is never read as an empty store; keys rotate (the first seals,
// every one opens, compare-and-set works across a key change, reseal()); TokenManager and
// AccountTokens renew, sign in and sign out through it. Every failure is swept for secrets.
import { it, before, after, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { startMockAvito } from "../support/mock-avito.mjs";
import { loadBoth, SCRATCH } from "../support/load.mjs";
import { mapStores } from "../support/map-store.mjs";

const { esm: lib, cjs } = await loadBoth();
const { verifyTokenStore } = await import(pathToFileURL(path.join(SCRATCH, "testing.mjs")).href);
const CLIENT_SECRET = "demo-secret";
const key = (fill) => Buffer.alloc(32, fill).toString("base64");
const OLD = { id: "2026-11", key: key(1) };
const NEW = { id: "2026-12", key: Buffer.alloc(32, 2).toString("base64url") };
const BYTES = { id: "bytes", key: new Uint8Array(32).fill(3) };
const KEY_TEXTS = [OLD.key, NEW.key, Buffer.from(BYTES.key).toString("base64")];
let mock, auth;
let failures = [];

before(async () => {
  mock = await startMockAvito();
  auth = new lib.AvitoAuth({ clientId: "demo-client", clientSecret: CLIENT_SECRET, host: mock.url, retries: false });
});
after(() => mock.close());
beforeEach(() => {
  mock.reset();
  failures = [];
});
afterEach(() => {
  const secrets = [CLIENT_SECRET, ...KEY_TEXTS, ...mock.state.refresh.keys(), ...mock.state.access.keys(), ...SETS.flatMap((s) => [s.access_token, s.refresh_token])];
  for (const e of failures) {
    for (const text of [e.message, String(e), JSON.stringify(e), e.stack, inspect(e, { depth: 6, showHidden: true })]) {
      for (const s of secrets) assert.ok(!String(text).includes(s), `a secret in a rendering of ${e.kind}: ${e.message}`);
    }
  }
});

async function rejection(promise) {
  const outcome = await promise.then((v) => ({ resolved: v }), (e) => ({ error: e }));
  assert.ok(outcome.error, `resolved (to ${JSON.stringify(outcome.resolved)}) instead of rejecting`);
  failures.push(outcome.error);
  return outcome.error;
}

const SETS = [];
/** A token set whose tokens are long and distinct (so that any 8-character piece is telling). */
function tokenSet(n, extra = {}) {
  const set = { access_token: `AT.${n}.${Math.random().toString(36).slice(2)}.access-token-body`, refresh_token: `RT.${n}.${Math.random().toString(36).slice(2)}.refresh-token-body`, token_type: "Bearer", expires_in: 86400, expires_at: Date.now() + 86_400_000, scopes: ["messenger:read", "items:info"], ...extra };
  SETS.push(set);
  return set;
}

/** No token of `sets`, nor any 8-character piece of one, appears in `dump`. */
function assertNoTokenIn(dump, sets) {
  const text = typeof dump === "string" ? dump : JSON.stringify(dump);
  for (const s of sets) {
    for (const token of [s.access_token, s.refresh_token].filter(Boolean)) {
      for (let i = 0; i + 8 <= token.length; i++) {
        const piece = token.slice(i, i + 8);
        assert.ok(!text.includes(piece), `the stored record holds "${piece}", a piece of a token`);
      }
    }
  }
}

const sealed = (inner, keys = [OLD], context = "seller-1", more = {}) => lib.sealedStore(inner, { keys, context, ...more });

it("what it writes holds no token and no piece of one; the clear members, fingerprints and the envelope are there; each write has a fresh IV", async () => {
  const inner = new lib.MemoryTokenStore();
  const store = sealed(inner);
  const set = tokenSet(1, { renewal: { id: "r-1", presented_at: 1, answer_by: 2 }, refresh_refused_at: undefined, user_data: { seller: 42 } });
  assert.equal(await store.compareAndSet(undefined, set), true);
  const raw = await inner.get();
  assertNoTokenIn(raw, [set]);
  assert.deepEqual(Object.keys(raw).sort(), ["access_token", "expires_at", "refresh_token", "renewal", "scopes", "sealed"]);
  assert.equal(raw.expires_at, set.expires_at);
  assert.deepEqual(raw.scopes, set.scopes);
  assert.deepEqual(raw.renewal, set.renewal);
  assert.match(raw.access_token, /^hmac-sha256:[A-Za-z0-9_-]{22}$/);
  assert.match(raw.refresh_token, /^hmac-sha256:[A-Za-z0-9_-]{22}$/);
  assert.notEqual(raw.access_token, raw.refresh_token);
  assert.equal(raw.sealed.v, 1);
  assert.equal(raw.sealed.kid, OLD.id);
  assert.equal(Buffer.from(raw.sealed.iv, "base64url").length, 12);
  assert.ok(!("user_data" in raw) && !("token_type" in raw), "members outside the clear list are sealed");
  const opened = await store.get();
  assert.deepEqual(opened, Object.fromEntries(Object.entries(set).filter(([, v]) => v !== undefined)));
  // The same set written again: another IV, another ciphertext, the same fingerprints.
  assert.equal(await store.compareAndSet(opened, set), true);
  const again = await inner.get();
  assert.notEqual(again.sealed.iv, raw.sealed.iv);
  assert.notEqual(again.sealed.data, raw.sealed.data);
  assert.equal(again.access_token, raw.access_token);
  // The CommonJS entry opens what the ESM one sealed (one format, one package).
  assert.deepEqual(await cjs.sealedStore(inner, { keys: [OLD], context: "seller-1" }).get(), opened);
});

it("the conformance kit passes on sealed stores: the in-memory one and a JSON-row store", async () => {
  // Two handles on one key share the data, as two processes would: one MemoryTokenStore per key.
  const memory = new Map();
  const inMemory = (k) => memory.get(k) ?? memory.set(k, new lib.MemoryTokenStore()).get(k);
  const results = await verifyTokenStore((k) => sealed(inMemory(k), [NEW, OLD], k), { leaseMs: 100 });
  assert.ok(results.length >= 10 && results.every((r) => r.ok));
  const rows = mapStores();
  const shared = await verifyTokenStore((k) => sealed(rows(k), [NEW, OLD], k), { leaseMs: 100 });
  assert.ok(shared.every((r) => r.ok));
  assert.ok(rows.rows.size >= 10);
  for (const [, row] of rows.rows) if (row.json) assert.ok(JSON.parse(row.json).sealed || !/"(at|rt)-/.test(row.json), `a kit row holds a token: ${row.json}`);
});

it("a record that does not open is a store error naming the key id and the context, never an empty store", async () => {
  const inner = new lib.MemoryTokenStore();
  const set = tokenSet(2);
  await sealed(inner, [OLD], "seller-7").compareAndSet(undefined, set);
  const good = await inner.get();
  const flip = (text, at) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
  const cases = {
    "a changed ciphertext byte": { ...good, sealed: { ...good.sealed, data: flip(good.sealed.data, 5) } },
    "a changed IV": { ...good, sealed: { ...good.sealed, iv: flip(good.sealed.iv, 3) } },
    "a changed fingerprint": { ...good, refresh_token: flip(good.refresh_token, 20) },
    "a cut ciphertext": { ...good, sealed: { ...good.sealed, data: good.sealed.data.slice(0, 30) } },
    "a ciphertext cut to nothing": { ...good, sealed: { ...good.sealed, data: "" } },
    "another key id that the store knows": { ...good, sealed: { ...good.sealed, kid: NEW.id } },
  };
  for (const [what, record] of Object.entries(cases)) {
    const store = sealed(new lib.MemoryTokenStore(record), [OLD, NEW], "seller-7");
    const e = await rejection(store.get());
    assert.equal(e.kind, "store", what);
    assert.ok(e instanceof lib.ApiException, what);
    assert.match(e.message, /seller-7/, `${what}: names the context`);
    assert.match(e.message, what.includes("key id") ? /2026-12/ : /2026-11|broken seal/, `${what}: names the key id (${e.message})`);
  }
  // Moved onto another seller: the additional data binds the context.
  const moved = await rejection(sealed(new lib.MemoryTokenStore(good), [OLD], "seller-8").get());
  assert.equal(moved.kind, "store");
  assert.match(moved.message, /"seller-8" sealed with key "2026-11" does not open/);
  // Sealed under a key id the store was not given.
  const unknown = await rejection(sealed(new lib.MemoryTokenStore(good), [NEW], "seller-7").get());
  assert.match(unknown.message, /key "2026-11".*not in keys/);
  // A broken envelope, a non-object, a truncated JSON value as a store may return it.
  for (const record of [{ ...good, sealed: { ...good.sealed, v: 2 } }, { ...good, sealed: "x" }, { ...good, sealed: { ...good.sealed, iv: undefined } }]) {
    const e = await rejection(sealed(new lib.MemoryTokenStore(record), [OLD], "seller-7").get());
    assert.equal(e.kind, "store");
    assert.match(e.message, /broken seal/);
  }
  // Never read as empty: a seed or a sign-in does not overwrite what the right key could open.
  const tampered = new lib.MemoryTokenStore(cases["a changed ciphertext byte"]);
  const before = JSON.stringify(await tampered.get());
  const seeded = new lib.TokenManager({ auth, tokens: tokenSet(3), store: sealed(tampered, [OLD], "seller-7") });
  assert.equal((await rejection(seeded.getAccessToken())).kind, "store");
  const accounts = new lib.AccountTokens({ auth, store: () => tampered, seal: { keys: [OLD] } });
  assert.equal((await rejection(accounts.signIn("seller-7", tokenSet(4)))).kind, "store");
  assert.equal((await rejection(accounts.manager("seller-7").getAccessToken())).kind, "store");
  assert.equal(JSON.stringify(await tampered.get()), before, "the record is as it was");
  assert.equal(mock.requests.length, 0, "nothing was sent");
});

it("a sign-in or sign-out over a record that does not open fails at once (waiting would not mend it) and writes nothing", { timeout: 20_000 }, async () => {
  const inner = new lib.MemoryTokenStore();
  await sealed(inner, [OLD], "seller-9").compareAndSet(undefined, tokenSet(10));
  const before = JSON.stringify(await inner.get());
  // A minute of leaseMs would be three minutes of retries were the refusal taken for an outage.
  const accounts = new lib.AccountTokens({ auth, store: () => inner, seal: { keys: [NEW] }, leaseMs: 60_000 });
  const signIn = await rejection(accounts.signIn("seller-9", tokenSet(11)));
  assert.equal(signIn.kind, "store");
  assert.match(signIn.message, /key "2026-11".*not in keys/);
  const signOut = await rejection(accounts.signOut("seller-9"));
  assert.equal(signOut.kind, "store");
  assert.equal(JSON.stringify(await inner.get()), before);
});

it("a sealed record is never taken for tokens: by a manager without the keys, with its seal stripped, or as a plaintext compare in a migration window", async () => {
  const inner = new lib.MemoryTokenStore();
  const set = tokenSet(12);
  await sealed(inner, [OLD], "seller-3").compareAndSet(undefined, set);
  const record = await inner.get();
  // A manager given the raw store (a process deployed without the seal) refuses it, sends nothing.
  const unsealed = new lib.TokenManager({ auth, grant: "refresh_token", store: inner });
  const e = await rejection(unsealed.getAccessToken());
  assert.equal(e.kind, "store");
  assert.match(e.message, /sealed record.*sealedStore\(\)/);
  const accounts = new lib.AccountTokens({ auth, store: () => inner, leaseMs: 60_000 });
  assert.equal((await rejection(accounts.signIn("seller-3", tokenSet(13)))).kind, "store");
  assert.deepEqual(await inner.get(), record, "nothing written over it");
  assert.equal(mock.requests.length, 0);
  // Its envelope stripped (a copy that kept known members only): broken, also with acceptPlaintext.
  const { sealed: _, ...stripped } = record;
  for (const acceptPlaintext of [false, true]) {
    const broken = await rejection(sealed(new lib.MemoryTokenStore(stripped), [OLD], "seller-3", { acceptPlaintext }).get());
    assert.match(broken.message, /envelope is missing/);
  }
  // In a migration window, a compare against a sealed record never sends the tokens themselves.
  const sent = [];
  const spy = { get: () => inner.get(), compareAndSet: (expected, next) => (sent.push(JSON.stringify(expected ?? null)), inner.compareAndSet(expected, next)), acquireLease: (t) => inner.acquireLease(t), releaseLease: (i) => inner.releaseLease(i) };
  const window = sealed(spy, [OLD], "seller-3", { acceptPlaintext: true });
  await window.get();
  assert.equal(await window.compareAndSet({ ...set, renewal: { id: "stale", presented_at: 1, answer_by: 2 } }, set), false);
  assert.ok(sent.length >= 1);
  assertNoTokenIn(sent.join("\n"), [set]);
  // An id that is a key (swapped with it) is refused where it is given.
  assert.throws(() => lib.sealedStore(inner, { keys: [{ id: NEW.key, key: OLD.key }], context: "a" }), /swapped/);
});

it("plaintext is refused unless acceptPlaintext; with it, it is read and resealed on its next write or by reseal()", async () => {
  const set = tokenSet(5);
  const refused = await rejection(sealed(new lib.MemoryTokenStore(set), [NEW]).get());
  assert.equal(refused.kind, "store");
  assert.match(refused.message, /plaintext.*acceptPlaintext: true/);
  const inner = new lib.MemoryTokenStore(set);
  const window = sealed(inner, [NEW], "seller-1", { acceptPlaintext: true });
  const read = await window.get();
  assert.deepEqual(read, set);
  const next = { ...read, renewal: { id: "m", presented_at: 1, answer_by: 2 } };
  assert.equal(await window.compareAndSet(read, next), true, "the plaintext set is the expected value");
  assertNoTokenIn(await inner.get(), [set]);
  assert.deepEqual(await sealed(inner, [NEW]).get(), next, "resealed: no plaintext window needed any more");
  // reseal(): plaintext → sealed, then current; an empty store is empty.
  const other = new lib.MemoryTokenStore(tokenSet(6));
  const migrating = sealed(other, [NEW], "seller-1", { acceptPlaintext: true });
  assert.equal(await migrating.reseal(), "resealed");
  assert.equal(await migrating.reseal(), "current");
  assertNoTokenIn(await other.get(), SETS);
  assert.equal(await sealed(new lib.MemoryTokenStore(), [NEW]).reseal(), "empty");
  assert.equal((await rejection(sealed(new lib.MemoryTokenStore(tokenSet(7)), [NEW]).reseal())).kind, "store");
  // A tombstone stored before sealing holds no token: it reads as it is.
  assert.deepEqual(await sealed(new lib.MemoryTokenStore({ signed_out_at: 5 }), [NEW]).get(), { signed_out_at: 5 });
});

it("keys rotate: the first seals, every one opens; compare-and-set holds across a key change; reseal() moves a set to the first key", async () => {
  const inner = new lib.MemoryTokenStore();
  const set = tokenSet(8);
  const oldFirst = sealed(inner, [OLD, NEW]);
  const newFirst = sealed(inner, [NEW, OLD]);
  await oldFirst.compareAndSet(undefined, set);
  assert.equal((await inner.get()).sealed.kid, OLD.id);
  // A process that already seals with the new key writes over a set sealed with the old one.
  const read = await newFirst.get();
  const marked = { ...read, renewal: { id: "new-1", presented_at: 1, answer_by: 2 } };
  assert.equal(await newFirst.compareAndSet(read, marked), true);
  assert.equal((await inner.get()).sealed.kid, NEW.id);
  // The old-first process still holds what it read before (sealed with the old key): its
  // expected value is stale (the mark changed), so it loses, as it must.
  assert.equal(await oldFirst.compareAndSet(set, { ...set, expires_at: 1 }), false);
  // It reads the new record and writes back under its own first key.
  const seen = await oldFirst.get();
  assert.deepEqual(seen, marked);
  const unmarked = { ...set, expires_at: 2 };
  assert.equal(await oldFirst.compareAndSet(seen, unmarked), true);
  assert.equal((await inner.get()).sealed.kid, OLD.id);
  // A set read under one key is the expected value after another process resealed it under
  // another key (same tokens, other fingerprints): the write finds it.
  const reader = sealed(inner, [OLD, NEW]);
  const before = await reader.get();
  assert.equal(await sealed(inner, [NEW, OLD]).reseal(), "resealed");
  assert.equal((await inner.get()).sealed.kid, NEW.id);
  assert.equal(await reader.compareAndSet(before, tokenSet(9)), true, "the expected value matched across the key change");
  // A Uint8Array key opens what its base64 spelling sealed.
  const bytesInner = new lib.MemoryTokenStore();
  await sealed(bytesInner, [{ id: "bytes", key: Buffer.from(BYTES.key).toString("base64") }]).compareAndSet(undefined, set);
  assert.deepEqual(await sealed(bytesInner, [BYTES]).get(), set);
  // After the migration the old key can go: every record opens with the new one alone.
  assert.equal(await sealed(inner, [NEW, OLD]).reseal(), "resealed");
  assert.ok(await sealed(inner, [NEW]).get());
  // A process that never got the new key fails loudly, and loses nothing.
  const stale = await rejection(sealed(inner, [OLD]).get());
  assert.match(stale.message, /key "2026-12".*not in keys \(given: "2026-11"\)/);
  assert.ok(await sealed(inner, [NEW]).get(), "the record is still there and opens with the right key");
});

it("options are checked where they are given, and no key shows in a message", async () => {
  const inner = new lib.MemoryTokenStore();
  const refusals = [
    [undefined, /needs its options/],
    [{ keys: [OLD] }, /context must be a non-empty string/],
    [{ keys: [OLD], context: "" }, /context/],
    [{ keys: [OLD], context: "x".repeat(4097) }, /context/],
    [{ keys: [], context: "a" }, /list of 1 to 16/],
    [{ keys: Array.from({ length: 17 }, (_, i) => ({ id: `k${i}`, key: OLD.key })), context: "a" }, /list of 1 to 16/],
    [{ keys: OLD, context: "a" }, /list of 1 to 16/],
    [{ keys: [OLD, { ...NEW, id: OLD.id }], context: "a" }, /keys\[1\]\.id "2026-11" is given twice/],
    [{ keys: [{ id: "a b", key: OLD.key }], context: "a" }, /keys\[0\]\.id must be/],
    [{ keys: [{ id: "k", key: OLD.key.slice(0, 20) }], context: "a" }, /keys\[0\]\.key holds 15 bytes/],
    [{ keys: [{ id: "k", key: "not base64 at all!" }], context: "a" }, /keys\[0\]\.key must be 32 random bytes/],
    [{ keys: [{ id: "k", key: new Uint8Array(31) }], context: "a" }, /holds 31 bytes/],
    [{ keys: [{ id: "k", key: 42 }], context: "a" }, /must be 32 random bytes/],
    [{ keys: [OLD], context: "a", acceptPlaintext: "yes" }, /acceptPlaintext must be a boolean/],
    [{ keys: [OLD], context: "a", acceptPlainText: true }, /acceptPlainText/],
  ];
  for (const [options, message] of refusals) {
    let thrown;
    try {
      lib.sealedStore(inner, options);
    } catch (e) {
      thrown = e;
    }
    assert.ok(thrown, `accepted ${inspect(options)}`);
    failures.push(thrown);
    assert.equal(thrown.kind, "invalid_argument");
    assert.match(thrown.message, message);
  }
  assert.throws(() => lib.sealedStore({ get() {} }, { keys: [OLD], context: "a" }), /must have get\(\), compareAndSet\(\), acquireLease\(\) and releaseLease\(\)/);
  assert.throws(() => new lib.AccountTokens({ auth, store: () => inner, seal: { keys: [OLD], context: "x" } }), /context/);
  assert.throws(() => new lib.AccountTokens({ auth, store: () => inner, seal: { keys: [] } }), /AccountTokens seal: keys must be a list/);
  const e = await rejection(sealed(inner).compareAndSet(undefined, "not a set"));
  assert.equal(e.kind, "invalid_argument");
});

it("a TokenManager renews through a sealed store: the rotation is stored sealed, the sign-out is visible in the clear", async () => {
  const inner = new lib.MemoryTokenStore();
  const store = sealed(inner, [NEW, OLD], "seller-42");
  const signedIn = { ...(await auth.exchangeCode(mock.grantCode())), expires_at: Date.now() - 1 };
  await store.compareAndSet(undefined, signedIn);
  const tm = new lib.TokenManager({ auth, grant: "refresh_token", store });
  const token = await tm.getAccessToken();
  assert.equal(mock.counts.refresh, 1);
  const stored = await store.get();
  assert.equal(stored.access_token, token);
  assert.notEqual(stored.refresh_token, signedIn.refresh_token, "the rotated refresh token is stored");
  const issued = [...mock.state.refresh.keys(), ...mock.state.access.keys()].map((t) => ({ access_token: t }));
  assertNoTokenIn(await inner.get(), [signedIn, stored, ...issued]);
  // Cached: no store call, no crypto.
  assert.equal(await tm.getAccessToken(), token);
  await tm.signOut();
  const tombstone = await inner.get();
  assert.equal(typeof tombstone.signed_out_at, "number", "the sign-out state is in the clear");
  assert.ok(!("access_token" in tombstone) && !("refresh_token" in tombstone));
  const e = await rejection(new lib.TokenManager({ auth, grant: "refresh_token", store: sealed(inner, [NEW], "seller-42") }).getAccessToken());
  assert.equal(e.kind, "sign_in_required");
});

it("AccountTokens seals every seller with one option, the account id as context", async () => {
  const rows = mapStores();
  const accounts = new lib.AccountTokens({ auth, store: (id) => rows(id), seal: { keys: [NEW, OLD] } });
  const sets = {};
  for (const id of ["seller-a", "seller-b"]) {
    sets[id] = { ...(await auth.exchangeCode(mock.grantCode())), expires_at: Date.now() - 1 };
    await accounts.signIn(id, sets[id]);
  }
  const a = await accounts.manager("seller-a").getAccessToken();
  assert.ok(mock.state.access.has(a));
  for (const id of ["seller-a", "seller-b"]) {
    const raw = await rows(id).get();
    assert.equal(raw.sealed.kid, NEW.id);
    assertNoTokenIn(raw, [sets[id], ...[...mock.state.access.keys()].map((t) => ({ access_token: t })), ...[...mock.state.refresh.keys()].map((t) => ({ refresh_token: t }))]);
  }
  // The context is the account id: seller-a's record opens for seller-a only.
  assert.ok(await lib.sealedStore(rows("seller-a"), { keys: [NEW], context: "seller-a" }).get());
  const moved = await rejection(lib.sealedStore(rows("seller-a"), { keys: [NEW], context: "seller-b" }).get());
  assert.match(moved.message, /"seller-b"/);
  await accounts.signOut("seller-b");
  assert.equal(typeof (await rows("seller-b").get()).signed_out_at, "number");
  assert.equal((await rejection(accounts.manager("seller-b").getAccessToken())).kind, "sign_in_required");
});
