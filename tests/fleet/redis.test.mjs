// Renewal across Node processes through Redis (a real redis-server on 127.0.0.1).
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, symlinkSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { startRotatingTokenServer } from "../support/rotating-token-server.mjs";
import { startRedis } from "../support/redis.mjs";
import { NEW_KEY, OLD_KEY, assertSwept, leakedTokens, sealKeysEnv } from "../support/seal.mjs";

const RENEWER = path.join(ROOT, "tests/fleet/redis-renewer.mjs");
const { RedisTokenStore, leaseKeyOf } = await import(pathToFileURL(path.join(SCRATCH, "redis.mjs")).href);
const { sealedStore } = await import(pathToFileURL(path.join(SCRATCH, "esm.mjs")).href);
let redis, redisUrl, mock, client;

before(async () => {
  // The example imports "avito-auth" and "redis": run it from the scratch project (the tarball)
  // with the repository's redis client resolvable beside it.
  copyFileSync(path.join(ROOT, "examples/node-redis/renewer.mjs"), path.join(SCRATCH, "node-redis-renewer.mjs"));
  if (!existsSync(path.join(SCRATCH, "node_modules/redis"))) symlinkSync(path.join(ROOT, "node_modules/redis"), path.join(SCRATCH, "node_modules/redis"));
  redis = await startRedis();
  ({ url: redisUrl, client } = redis);
  mock = await startMockAvito();
});
after(async () => { await redis?.close(); await mock?.close(); });

function renewer(startAt, leaseMs, host = mock.url, options, { url = redisUrl, env = process.env } = {}) {
  const p = spawn(process.execPath, [RENEWER, SCRATCH, url, host, String(startAt), String(leaseMs), ...(options ? [options] : [])], { cwd: ROOT, env });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  p.done = new Promise((resolve) => p.on("close", () => resolve(out)));
  return p;
}
const tokenOf = (out) => (/^TOKEN (.+)$/m.exec(out) ?? [])[1] ?? `no token: ${out}`;
const seed = async () => {
  const ts = { access_token: "expired", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1 };
  await client.set("avito:tokens:acct-1", JSON.stringify(ts));
  await client.del(leaseKeyOf("avito:tokens:acct-1"));
  return ts;
};

it("the conformance kit passes on RedisTokenStore with node-redis and with ioredis clients, plain and sealed", async () => {
  const { verifyTokenStore } = await import(pathToFileURL(path.join(SCRATCH, "testing.mjs")).href);
  const { default: IORedis } = await import("ioredis");
  const io = new IORedis(redisUrl, { lazyConnect: true });
  await io.connect();
  try {
    for (const [name, clientOf] of [["node-redis", client], ["ioredis", io]]) {
      const results = await verifyTokenStore((key) => new RedisTokenStore({ client: clientOf, key }), { keyPrefix: `${name}:` });
      assert.ok(results.length >= 10 && results.every((r) => r.ok), name);
      const sealed = await verifyTokenStore((key) => sealedStore(new RedisTokenStore({ client: clientOf, key }), { keys: [NEW_KEY, OLD_KEY], context: key }), { keyPrefix: `sealed-${name}:` });
      assert.ok(sealed.length >= 10 && sealed.every((r) => r.ok), `${name}, sealed`);
      const [kitKey] = await client.keys(`sealed-${name}:*-round-trip`);
      assert.equal(JSON.parse(await client.get(kitKey)).sealed.kid, NEW_KEY.id, "the sealed kit run wrote sealed values");
    }
    // Both clients on one key: what one writes, the other compares against.
    const [a, b] = [new RedisTokenStore({ client, key: "proto:mixed" }), new RedisTokenStore({ client: io, key: "proto:mixed" })];
    await client.del(["proto:mixed", leaseKeyOf("proto:mixed")]);
    const set = { access_token: "a1", refresh_token: "r1", renewal: { id: "x", presented_at: 1, answer_by: 2 } };
    assert.equal(await a.compareAndSet(undefined, set), true);
    assert.equal(await b.compareAndSet({ ...set, renewal: { id: "y" } }, { access_token: "a2" }), false);
    assert.equal(await b.compareAndSet(set, { access_token: "a2" }), true);
    assert.deepEqual(await a.get(), { access_token: "a2" });
  } finally {
    io.disconnect();
  }
});

it("the key is required and names one account: no key, or one that cannot be sent as it is, is invalid_argument", async () => {
  const { ApiException } = await import(pathToFileURL(path.join(SCRATCH, "esm.mjs")).href);
  for (const key of [undefined, "", 42, "a\u0000b", "half \uD800 surrogate", "x".repeat(4097)]) {
    assert.throws(() => new RedisTokenStore({ client, key }), (e) => e instanceof ApiException && e.kind === "invalid_argument" && /RedisTokenStore: key must be a non-empty string/.test(e.message), JSON.stringify(key));
  }
  assert.throws(() => new RedisTokenStore({ key: "k" }), (e) => e instanceof ApiException && e.kind === "invalid_argument");
  const store = new RedisTokenStore({ client, key: "proto:checks" });
  await assert.rejects(store.compareAndSet(undefined, "not a set"), (e) => e instanceof ApiException && e.kind === "invalid_argument");
  await assert.rejects(store.acquireLease(0), (e) => e instanceof ApiException && e.kind === "invalid_argument");
  assert.equal(await client.exists(["proto:checks", leaseKeyOf("proto:checks")]), 0, "a refused call wrote nothing");
});

it("no account key reaches another account's lease: X and X:lease (the old layout's lease name) are independent", async () => {
  const [x, xLease] = ["proto:X", "proto:X:lease"];
  await client.del([x, xLease, leaseKeyOf(x), leaseKeyOf(xLease)]);
  const [a, b] = [new RedisTokenStore({ client, key: x }), new RedisTokenStore({ client, key: xLease })];
  const held = await a.acquireLease(10_000);
  assert.equal(typeof held, "string");
  assert.equal(await b.get(), undefined, "X's lease is not X:lease's TokenSet");
  const set = { access_token: "a1", refresh_token: "r1" };
  assert.equal(await b.compareAndSet(undefined, set), true, "X:lease's store is empty while X holds its lease");
  const other = await b.acquireLease(10_000);
  assert.equal(typeof other, "string", "X:lease's lease is free while X's is held");
  await a.releaseLease(held);
  assert.deepEqual(await b.get(), set, "releasing X's lease leaves X:lease's TokenSet");
  const again = await a.acquireLease(10_000);
  assert.equal(typeof again, "string", "X's lease is free again while X:lease holds a TokenSet and a lease");
  assert.deepEqual(await client.get(leaseKeyOf(x)), again, "the lease lives under leaseKeyOf(key)");
  await Promise.all([a.releaseLease(again), b.releaseLease(other)]);
});

it("6 processes renewing at once: one refresh, all end with the same token", async () => {
  mock.reset();
  mock.tokenDelayMs = 300;
  const ts = await seed();
  const startAt = Date.now() + 1500;
  const outs = await Promise.all(Array.from({ length: 6 }, () => renewer(startAt, 5000).done));
  const tokens = outs.map(tokenOf);
  assert.equal(new Set(tokens).size, 1, tokens.join("\n"));
  assert.match(tokens[0], /^at_/);
  assert.equal(mock.counts.refresh, 1);
  const stored = JSON.parse(await client.get("avito:tokens:acct-1"));
  assert.equal(stored.access_token, tokens[0]);
  assert.notEqual(stored.refresh_token, ts.refresh_token);
});

// Issue 12: four processes, the token server resets the connection on the first refresh before
// processing it (nothing spent). The renewer presents the same refresh token again at once and
// renews; every later call gets a token; nobody is asked to sign in.
it("4 processes, the first refresh reset before processing: every call gets a token, 0 sign-ins", async () => {
  mock.reset();
  const ts = await seed();
  mock.script({ reset: true });
  const startAt = Date.now() + 1500;
  const outs = await Promise.all(Array.from({ length: 4 }, () => renewer(startAt, 5000).done));
  for (const out of outs) assert.doesNotMatch(out, /ERROR|signInRequired/, out);
  const tokens = outs.map(tokenOf);
  assert.equal(new Set(tokens).size, 1, tokens.join("\n"));
  const sent = mock.requests.filter((r) => r.form.grant_type === "refresh_token").map((r) => r.form.refresh_token);
  assert.deepEqual(sent, [ts.refresh_token, ts.refresh_token], "the reset refresh, then the same token once more");
  const again = (await Promise.all(Array.from({ length: 4 }, () => renewer(0, 5000).done))).map(tokenOf);
  assert.deepEqual(again, tokens, "later calls: the stored token, no renewal");
  assert.equal(mock.counts.refresh, 2);
});

// A renewer SIGKILLed mid-request (issue 12: a lost answer must never strand a seller). Its
// mark stays in the stored set with the time until which its request could still be answered
// (`renewal.answer_by`: the whole request budget). Until then the others wait — no second
// presentation, never signInRequired; after it (plus the clock margin) one of them presents the
// same refresh token again and the token server decides:
//   - it never processed the dead renewer's request → the token is live → renewed, no sign-in;
//   - it did (the rotation was lost with the process) → invalid_grant → signInRequired;
//   - strictRotation: true → signInRequired without presenting it again.
// (This replaces the strict rule "a dead renewer's refresh token is never sent again" and its
// `refreshing` mark.)
const CLIENT = { clientId: "soak-client", clientSecret: "soak-secret" };
const TIMEOUT_MS = 2000; // retries: false → the request budget, and the mark's answer_by - presented_at
const LEASE_MS = 1500;

async function killedMidRequest({ fault, strictRotation = false }) {
  const server = await startRotatingTokenServer({ ...CLIENT, expiresIn: 3600, schedule: { refresh_token: { 1: fault } } });
  try {
    const seeded = server.signIn({ via: "seed" });
    await client.set("avito:tokens:acct-1", JSON.stringify({ ...seeded, expires_at: Date.now() - 1 }));
    await client.del(leaseKeyOf("avito:tokens:acct-1"));
    const options = JSON.stringify({ ...CLIENT, timeoutMs: TIMEOUT_MS, strictRotation });
    const doomed = renewer(0, LEASE_MS, server.url, options);
    for (let i = 0; i < 100 && server.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(server.requests.length, 1, "the doomed renewer sent its refresh");
    doomed.kill("SIGKILL"); // …and its process dies holding the lease, its request open
    await doomed.done;
    const marked = JSON.parse(await client.get("avito:tokens:acct-1"));
    assert.equal(marked.refresh_token, seeded.refresh_token);
    assert.ok(marked.renewal?.answer_by >= marked.renewal?.presented_at + TIMEOUT_MS - 1, `the dead renewer's mark stays: ${JSON.stringify(marked.renewal)}`);
    const t0 = Date.now();
    const outs = await Promise.all(Array.from({ length: 3 }, () => renewer(0, LEASE_MS, server.url, options).done));
    const elapsed = Date.now() - t0;
    const refreshes = server.requests.filter((r) => r.grant === "refresh_token");
    // Never two presentations at once: the second starts after the first ended at the server
    // (the killed process's socket closed) and after its mark's answer_by.
    for (let k = 1; k < refreshes.length; k++) {
      assert.ok(refreshes[k].at >= refreshes[0].end, "a second presentation while the first was open");
      assert.ok(refreshes[k].at >= marked.renewal.answer_by, `presented again ${marked.renewal.answer_by - refreshes[k].at} ms before the mark's answer_by`);
    }
    assert.ok(elapsed < 2 * LEASE_MS + TIMEOUT_MS + 3000, `took ${elapsed} ms`);
    return { server, outs, refreshes, seeded, stored: JSON.parse(await client.get("avito:tokens:acct-1")) };
  } finally {
    await server.close();
  }
}

it("a renewer SIGKILLed mid-request the server never processed: the others wait, then present the same refresh token again and renew (no sign-in)", async () => {
  const { outs, refreshes, seeded, stored } = await killedMidRequest({ fault: "hang" });
  for (const out of outs) assert.doesNotMatch(out, /signInRequired|ERROR/, out);
  const tokens = outs.map(tokenOf);
  assert.equal(new Set(tokens).size, 1, tokens.join("\n"));
  assert.equal(refreshes.length, 2, "presented once more, by one process");
  assert.equal(refreshes[1].rt, seeded.refresh_token, "the same refresh token");
  assert.equal(refreshes[1].outcome, "rotated");
  assert.equal(stored.refresh_token, refreshes[1].issued, "the store holds the new rotation");
  assert.equal(stored.renewal, undefined, "unmarked");
});

it("a renewer SIGKILLed mid-request the server processed: the token is presented again once, the server refuses it, signInRequired", async () => {
  const { outs, refreshes, seeded, stored } = await killedMidRequest({ fault: "hang_processed" });
  for (const out of outs) assert.match(out, /^ERROR \S+ signInRequired /m, out);
  assert.equal(refreshes[0].outcome, "rotated_lost");
  assert.equal(refreshes.length, 2, "presented once more, by one process; the others read the refusal");
  assert.equal(refreshes[1].rt, seeded.refresh_token);
  assert.equal(refreshes[1].outcome, "invalid_grant");
  assert.equal(stored.refresh_token, undefined, "the refused refresh token is gone from the store");
  assert.ok(stored.refresh_refused_at > 0, "and the refusal recorded");
  await seed(); // the user signs in again (the mock's chain): renewals go on
  assert.match(tokenOf(await renewer(0, LEASE_MS).done), /^at_/);
});

it("strictRotation: a renewer SIGKILLed mid-request → the others wait for its mark, then signInRequired without presenting the token again", async () => {
  const { outs, refreshes } = await killedMidRequest({ fault: "hang", strictRotation: true });
  for (const out of outs) assert.match(out, /^ERROR \S+ signInRequired /m, out);
  assert.equal(refreshes.length, 1, "the token whose answer was lost is not presented again");
});

// Issue 20: the shipped example sealed (AVITO_SEAL_KEYS, the new key first) in its own database.
// After the fleet's renewal, every key (SCAN), its value (GET) and its serialized form (DUMP,
// uncompressed: an LZF-compressed payload could hide a token from the sweep) hold no token the
// server issued and no 8-character piece of one.
it("6 processes renewing through the sealed example: one refresh; SCAN, GET and DUMP of every key hold no token and no 8-character piece of one", async () => {
  mock.reset();
  mock.tokenDelayMs = 300;
  const { default: IORedis } = await import("ioredis");
  const io = new IORedis(`${redisUrl}/1`, { lazyConnect: true });
  await io.connect();
  try {
    await io.flushdb();
    await io.config("SET", "rdbcompression", "no");
    const key = "avito:tokens:acct-1";
    const keys = [NEW_KEY, OLD_KEY];
    const store = sealedStore(new RedisTokenStore({ client: io, key }), { keys, context: key });
    const seeded = { access_token: "expired", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1 };
    assert.equal(await store.compareAndSet(undefined, seeded), true);
    const startAt = Date.now() + 1500;
    const env = { ...process.env, AVITO_SEAL_KEYS: sealKeysEnv(keys) };
    const outs = await Promise.all(Array.from({ length: 6 }, () => renewer(startAt, 5000, mock.url, undefined, { url: `${redisUrl}/1`, env }).done));
    const tokens = outs.map(tokenOf);
    assert.equal(new Set(tokens).size, 1, tokens.join("\n"));
    assert.match(tokens[0], /^at_/);
    assert.equal(mock.counts.refresh, 1);
    const opened = await store.get();
    assert.equal(opened.access_token, tokens[0], "the sealed value opens to the renewed set");
    assert.notEqual(opened.refresh_token, seeded.refresh_token);
    const dumpAll = async () => {
      const parts = [];
      let cursor = "0";
      do {
        const [next, found] = await io.scan(cursor, "COUNT", 100);
        cursor = next;
        for (const k of found) parts.push(Buffer.from(k), (await io.getBuffer(k)) ?? Buffer.alloc(0), await io.dumpBuffer(k));
      } while (cursor !== "0");
      return Buffer.concat(parts);
    };
    assertSwept(await dumpAll(), mock.state.issued, { what: "Redis SCAN + GET + DUMP", kid: NEW_KEY.id });
    // The sweep reads DUMP's format: a plaintext value's token is found in its DUMP alone.
    await io.set("control", JSON.stringify(seeded));
    const payload = await io.dumpBuffer("control");
    await io.del("control");
    assert.deepEqual(leakedTokens(payload, mock.state.issued), [seeded.refresh_token]);
  } finally {
    await io.config("SET", "rdbcompression", "yes");
    io.disconnect();
  }
});

// Issue 20: a sealed value cut short in Redis (a partial restore, a bad copy) is not JSON any more:
// the read fails as a store failure, never as an empty store, and nothing writes over it.
it("a sealed value cut short in Redis: a store failure with no token in it; a seeded manager and a sign-in write nothing over it", async () => {
  mock.reset();
  const { AccountTokens, AvitoAuth, ApiException, TokenManager } = await import(pathToFileURL(path.join(SCRATCH, "esm.mjs")).href);
  const key = "avito:tokens:cut";
  const keys = [NEW_KEY, OLD_KEY];
  await client.del([key, leaseKeyOf(key)]);
  const set = { access_token: "at_cut_access_0123456789", refresh_token: mock.grantRefresh(), expires_at: Date.now() + 3_600_000 };
  assert.equal(await sealedStore(new RedisTokenStore({ client, key }), { keys, context: key }).compareAndSet(undefined, set), true);
  const whole = await client.get(key);
  for (const cut of [whole.slice(0, -2), whole.slice(0, whole.indexOf('"data"') + 20), whole.slice(0, 40)]) {
    await client.set(key, cut);
    const auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, retries: false });
    const loud = (e) => e instanceof ApiException && e.kind === "store" && ![e.message, String(e), e.stack].some((t) => t.includes(set.refresh_token) || t.includes(set.access_token));
    await assert.rejects(new TokenManager({ auth, tokens: { access_token: "at_seed", refresh_token: mock.grantRefresh() }, store: sealedStore(new RedisTokenStore({ client, key }), { keys, context: key }) }).getAccessToken(), loud);
    const accounts = new AccountTokens({ auth, store: (id) => new RedisTokenStore({ client, key: id }), seal: { keys }, leaseMs: 100 });
    await assert.rejects(accounts.signIn(key, { access_token: "at_again", refresh_token: mock.grantRefresh() }), loud);
    assert.equal(await client.get(key), cut, "the cut value was written over");
  }
  assert.equal(mock.counts.token, 0, "nothing reached the token server");
  await client.set(key, whole);
  assert.equal((await sealedStore(new RedisTokenStore({ client, key }), { keys, context: key }).get()).refresh_token, set.refresh_token, "restored, it opens");
});
