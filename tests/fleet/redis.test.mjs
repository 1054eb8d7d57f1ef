// Renewal across Node processes through Redis (a real redis-server on 127.0.0.1).
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, symlinkSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SCRATCH, closedPort } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";

const RENEWER = path.join(ROOT, "tests/fleet/redis-renewer.mjs");
let redis, redisUrl, mock, client;

before(async () => {
  // The example imports "avito-auth" and "redis": run it from the scratch project (the tarball)
  // with the repository's redis client resolvable beside it.
  copyFileSync(path.join(ROOT, "examples/node-redis/renewer.mjs"), path.join(SCRATCH, "node-redis-renewer.mjs"));
  if (!existsSync(path.join(SCRATCH, "node_modules/redis"))) symlinkSync(path.join(ROOT, "node_modules/redis"), path.join(SCRATCH, "node_modules/redis"));
  assert.ok(existsSync("/usr/bin/redis-server"), "redis-server is missing: scripts/test.sh installs Debian's redis-server");
  const port = await closedPort();
  redis = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  redisUrl = `redis://127.0.0.1:${port}`;
  const { createClient } = await import("redis");
  for (let i = 0; i < 50 && !client; i++) {
    try { client = await createClient({ url: redisUrl }).on("error", () => {}).connect(); } catch { await new Promise((r) => setTimeout(r, 100)); }
  }
  assert.ok(client, "redis-server did not start");
  mock = await startMockAvito();
});
after(async () => { await client?.quit(); redis?.kill(); await mock?.close(); });

function renewer(startAt, leaseMs) {
  const p = spawn(process.execPath, [RENEWER, SCRATCH, redisUrl, mock.url, String(startAt), String(leaseMs)], { cwd: ROOT });
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
  await client.del("avito:tokens:acct-1:lease");
  return ts;
};

it("the conformance kit passes on RedisTokenStore with node-redis and with ioredis clients", async () => {
  const { RedisTokenStore } = await import(pathToFileURL(path.join(SCRATCH, "redis.mjs")).href);
  const { verifyTokenStore } = await import(pathToFileURL(path.join(SCRATCH, "testing.mjs")).href);
  const { default: IORedis } = await import("ioredis");
  const io = new IORedis(redisUrl, { lazyConnect: true });
  await io.connect();
  try {
    for (const [name, clientOf] of [["node-redis", client], ["ioredis", io]]) {
      const results = await verifyTokenStore((key) => new RedisTokenStore({ client: clientOf, key }), { keyPrefix: `${name}:` });
      assert.ok(results.length >= 10 && results.every((r) => r.ok), name);
    }
    // Both clients on one key: what one writes, the other compares against.
    const [a, b] = [new RedisTokenStore({ client, key: "proto:mixed" }), new RedisTokenStore({ client: io, key: "proto:mixed" })];
    await client.del(["proto:mixed", "proto:mixed:lease"]);
    const set = { access_token: "a1", refresh_token: "r1", renewal: { id: "x", presented_at: 1, answer_by: 2 } };
    assert.equal(await a.compareAndSet(undefined, set), true);
    assert.equal(await b.compareAndSet({ ...set, renewal: { id: "y" } }, { access_token: "a2" }), false);
    assert.equal(await b.compareAndSet(set, { access_token: "a2" }), true);
    assert.deepEqual(await a.get(), { access_token: "a2" });
  } finally {
    io.disconnect();
  }
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

// The renewer dies after sending its refresh: the server may have spent that refresh token (Avito
// rotates on use), so no other process may present it again (issue "Hardening": never twice).
// The others learn it within the lease — the dead renewer's mark stays in the stored set — and
// surface signInRequired; once the user signs in again (a fresh set in the store), renewals go on.
it("a renewer that dies mid-request blocks the others no longer than the lease, and its refresh token is never sent again", async () => {
  mock.reset();
  await seed();
  const leaseMs = 1500;
  mock.script({ hang: true }); // the first refresh never gets an answer…
  const doomed = renewer(0, leaseMs);
  for (let i = 0; i < 100 && mock.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(mock.requests.length, 1, "the doomed renewer sent its refresh");
  doomed.kill("SIGKILL"); // …and its process dies holding the lease
  await doomed.done;
  assert.ok(await client.get("avito:tokens:acct-1:lease"), "the dead renewer's lease is still there");
  const t0 = Date.now();
  const outs = await Promise.all(Array.from({ length: 3 }, () => renewer(0, leaseMs).done));
  const elapsed = Date.now() - t0;
  for (const out of outs) assert.match(out, /^ERROR invalid_argument signInRequired /m, out);
  assert.equal(mock.counts.refresh, 1, "the possibly spent refresh token was not presented again");
  assert.ok(elapsed < leaseMs + 4000, `took ${elapsed} ms`);
  assert.ok(JSON.parse(await client.get("avito:tokens:acct-1")).refreshing > 0, "the mark of the lost renewal stays");
  await seed(); // the user signs in again
  const after = tokenOf(await renewer(0, leaseMs).done);
  assert.match(after, /^at_/);
  assert.equal(mock.counts.refresh, 2, "the new sign-in's refresh token renews");
});
