// PostgresTokenStore against a real PostgreSQL server (Debian's, started here with initdb in a
// temporary folder on 127.0.0.1): the conformance kit, fleets of Node processes renewing one and
// a hundred accounts, a renewer killed mid-lease, a server restart in the middle of a run, and
// status() across processes (issue 21): what one process's renewal or sign-out records in the
// stored set, another process's `accounts.status(id)` reports.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, symlinkSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { postgresBin, startPostgresFleet } from "../support/postgres.mjs";
import { NEW_KEY, OLD_KEY, assertSwept, leakedTokens, sealKeysEnv } from "../support/seal.mjs";

const RENEWER = path.join(ROOT, "tests/fleet/postgres-renewer.mjs");
const PROCESS = path.join(ROOT, "tests/fleet/health-process.mjs");
const SELF = "/core/v1/accounts/self"; // GET, declares user:read
const scratchImport = (f) => import(pathToFileURL(path.join(SCRATCH, f)).href);
let server, pool, mock, pg, store;

before(async () => {
  // The example imports "avito-auth" and "pg": run it from the scratch project (the tarball) with
  // the repository's pg resolvable beside it.
  copyFileSync(path.join(ROOT, "examples/node-postgres/accounts.mjs"), path.join(SCRATCH, "node-postgres-accounts.mjs"));
  ({ server, pool, pg, store } = await startPostgresFleet(SCRATCH, { max: 20 }));
  mock = await startMockAvito();
});
after(async () => {
  await pool?.end();
  server?.close();
  await mock?.close();
});

function renewer(accounts, { startAt = 0, leaseMs = 5000, timeoutMs, url = server.url, sealKeys } = {}) {
  const env = { ...process.env, ...(timeoutMs === undefined ? {} : { AVITO_TIMEOUT_MS: String(timeoutMs) }), ...(sealKeys ? { AVITO_SEAL_KEYS: sealKeysEnv(sealKeys) } : {}) };
  const p = spawn(process.execPath, [RENEWER, SCRATCH, url, mock.url, String(startAt), String(leaseMs), accounts.join(",")], { cwd: ROOT, env });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  p.done = new Promise((resolve) => p.on("close", () => resolve(out)));
  return p;
}
/** account → token (or the error line) from a renewer's output. */
const results = (out) => {
  const m = new Map();
  for (const line of out.split("\n")) {
    const r = /^(TOKEN|ERROR) (\S+) (.*)$/.exec(line);
    if (r) m.set(r[2], r[1] === "TOKEN" ? r[3] : `ERROR ${r[3]}`);
  }
  return m;
};
const expiredSet = () => ({ access_token: "expired", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1 });
async function seed(account, set = expiredSet()) {
  await pool.query("DELETE FROM avito_tokens WHERE key = $1", [`avito:${account}`]);
  assert.equal(await new store.PostgresTokenStore({ client: pool, key: `avito:${account}` }).compareAndSet(undefined, set), true);
  return set;
}
const stored = async (account) => (await pool.query("SELECT token_set FROM avito_tokens WHERE key = $1", [`avito:${account}`])).rows[0]?.token_set;

it("the conformance kit passes on PostgresTokenStore (a Pool, and a single Client), plain and sealed", async () => {
  const { verifyTokenStore } = await scratchImport("testing.mjs");
  const results = await verifyTokenStore((key) => new store.PostgresTokenStore({ client: pool, key }));
  assert.ok(results.length >= 10 && results.every((r) => r.ok));
  const { sealedStore } = await scratchImport("esm.mjs");
  const sealed = await verifyTokenStore((key) => sealedStore(new store.PostgresTokenStore({ client: pool, key }), { keys: [NEW_KEY, OLD_KEY], context: key }), { keyPrefix: "sealed-" });
  assert.ok(sealed.length >= 10 && sealed.every((r) => r.ok), "sealed");
  const { rows } = await pool.query("SELECT token_set FROM avito_tokens WHERE key LIKE 'sealed-%' AND token_set IS NOT NULL");
  assert.ok(rows.length >= 8 && rows.every((r) => r.token_set.sealed?.kid === NEW_KEY.id && [r.token_set.access_token, r.token_set.refresh_token].every((t) => t === undefined || t.startsWith("hmac-sha256:"))), `${rows.length} sealed rows`);
  const client = new pg.Client(server.config);
  await client.connect();
  try {
    await verifyTokenStore((key) => new store.PostgresTokenStore({ client, key }), { race: 4 });
  } finally {
    await client.end();
  }
});

it("one statement per call, the table holds many accounts, the DDL is the README's", async () => {
  const readme = (await import("node:fs")).readFileSync(path.join(ROOT, "README.md"), "utf8");
  assert.ok(readme.includes(store.tableDDL()), "README shows the DDL createTable() runs");
  const { ApiException } = await scratchImport("esm.mjs");
  const invalid = (e) => e instanceof ApiException && e.kind === "invalid_argument";
  assert.throws(() => new store.PostgresTokenStore({ client: pool, key: "k", table: "x; DROP TABLE y" }), invalid);
  assert.throws(() => new store.PostgresTokenStore({ client: {}, key: "k" }), invalid);
  for (const key of [undefined, "", "a\u0000b", "\uDC00"]) assert.throws(() => new store.PostgresTokenStore({ client: pool, key }), invalid, JSON.stringify(key));
  // A custom table (schema-qualified), created by the instance helper.
  await pool.query("CREATE SCHEMA IF NOT EXISTS avito");
  const s = new store.PostgresTokenStore({ client: pool, key: "custom", table: "avito.tokens" });
  await s.createTable();
  await s.createTable();
  assert.equal(await s.compareAndSet(undefined, { access_token: "a", refresh_token: "r" }), true);
  assert.deepEqual((await pool.query("SELECT key, token_set FROM avito.tokens")).rows, [{ key: "custom", token_set: { access_token: "a", refresh_token: "r" } }]);
  // Every call is one statement (no transaction, no read-then-write from the app).
  const sent = [];
  const counting = new store.PostgresTokenStore({ client: { query: (text, values) => (sent.push(text), pool.query(text, values)) }, key: "counted" });
  for (const op of [() => counting.get(), () => counting.compareAndSet(undefined, { access_token: "a" }), () => counting.compareAndSet({ access_token: "a" }, { access_token: "b" }), () => counting.acquireLease(1000), () => counting.releaseLease("x")]) {
    sent.length = 0;
    await op();
    assert.equal(sent.length, 1, sent.join("\n"));
  }
  // The lease is on the database's clock: its expiry is now() + ttl there.
  const id = await s.acquireLease(60_000);
  const { rows } = await pool.query("SELECT lease_id, extract(epoch FROM lease_until - now()) AS left FROM avito.tokens");
  assert.equal(rows[0].lease_id, id);
  assert.ok(Number(rows[0].left) > 55 && Number(rows[0].left) <= 60, rows[0].left);
});

it("6 processes renewing one account at once: exactly one refresh, all end with the same token", async () => {
  mock.reset();
  mock.tokenDelayMs = 300;
  const seeded = await seed("acct-1");
  const startAt = Date.now() + 2000;
  const outs = await Promise.all(Array.from({ length: 6 }, () => renewer(["acct-1"], { startAt }).done));
  const tokens = outs.map((o) => results(o).get("acct-1") ?? `no answer: ${o}`);
  assert.equal(new Set(tokens).size, 1, tokens.join("\n"));
  assert.match(tokens[0], /^at_/);
  assert.equal(mock.counts.refresh, 1);
  const now = await stored("acct-1");
  assert.equal(now.access_token, tokens[0]);
  assert.notEqual(now.refresh_token, seeded.refresh_token);
});

it("100 accounts renewed in parallel by 4 processes: one refresh per account", async () => {
  mock.reset();
  mock.tokenDelayMs = 100;
  const accounts = Array.from({ length: 100 }, (_, i) => `bulk-${i}`);
  const seeded = new Map();
  for (const a of accounts) seeded.set(a, (await seed(a)).refresh_token);
  const startAt = Date.now() + 2500;
  const outs = await Promise.all(Array.from({ length: 4 }, () => renewer(accounts, { startAt, leaseMs: 10_000 }).done));
  const perProcess = outs.map(results);
  for (const a of accounts) {
    const seen = new Set(perProcess.map((m) => m.get(a)));
    assert.equal(seen.size, 1, `${a}: ${[...seen].join(" | ")}`);
    const [token] = seen;
    assert.match(String(token), /^at_/, `${a}: ${token}`);
    assert.equal((await stored(a)).access_token, token);
  }
  assert.equal(mock.counts.refresh, 100, "one refresh per account");
  const presented = mock.requests.filter((r) => r.form.grant_type === "refresh_token").map((r) => r.form.refresh_token);
  assert.deepEqual(presented.sort(), [...seeded.values()].sort(), "each account's own refresh token, once");
});

// The renewer is killed while its refresh is in flight, holding the lease. The others are held
// back no longer than the lease, never present the refresh token while the first presentation
// may still be answered, and agree on one outcome; after a new sign-in, renewals go on.
// The renewal protocol: the dead renewer's lease covers its whole request (timeoutMs here) and
// its mark says until when the request could be answered; after both, the survivors present the
// same refresh token again and the server decides. This mock never processed the hung request,
// so they all get the new token — no sign-in.
it("a renewer SIGKILLed mid-lease: the others wait out its lease and mark only, present the token again, and agree", async () => {
  mock.reset();
  await seed("acct-kill");
  const leaseMs = 1500, timeoutMs = 1000;
  mock.script({ hang: true }); // the first refresh is never answered…
  const doomed = renewer(["acct-kill"], { leaseMs, timeoutMs });
  for (let i = 0; i < 200 && mock.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(mock.requests.length, 1, `the doomed renewer sent its refresh: ${doomed.exitCode} ${await Promise.race([doomed.done, new Promise((r) => setTimeout(() => r("(running)"), 10))])}`);
  doomed.kill("SIGKILL"); // …and its process dies holding the lease
  await doomed.done;
  const { rows } = await pool.query("SELECT lease_id, lease_until > now() AS live FROM avito_tokens WHERE key = 'avito:acct-kill'");
  assert.ok(rows[0].lease_id && rows[0].live, "the dead renewer's lease is still there");
  const t0 = Date.now();
  const outs = await Promise.all(Array.from({ length: 3 }, () => renewer(["acct-kill"], { leaseMs, timeoutMs }).done));
  const elapsed = Date.now() - t0;
  const answers = outs.map((o) => results(o).get("acct-kill") ?? `no answer: ${o}`);
  assert.equal(new Set(answers).size, 1, answers.join("\n"));
  assert.match(answers[0], /^at_/, "an unprocessed lost request costs no sign-in");
  assert.equal(mock.counts.refresh, 2, "the dead renewer's presentation and one more, after its mark");
  assert.ok(elapsed < leaseMs + 6000, `took ${elapsed} ms`);
  // A sign-in (the AccountTokens step) stores the new set over whatever the store holds.
  const { AccountTokens, AvitoAuth } = await scratchImport("esm.mjs");
  const accounts = new AccountTokens({ auth: new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url }), store: (a) => new store.PostgresTokenStore({ client: pool, key: `avito:${a}` }) });
  await accounts.signIn("acct-kill", expiredSet());
  const after = results(await renewer(["acct-kill"], { leaseMs }).done).get("acct-kill");
  assert.match(String(after), /^at_/);
});

it("the server restarted mid-run: calls during the outage fail as rejections, then the store recovers with nothing lost", async () => {
  mock.reset();
  const { AccountTokens, AvitoAuth } = await scratchImport("esm.mjs");
  const accounts = new AccountTokens({
    auth: new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, retries: false }),
    store: (a) => new store.PostgresTokenStore({ client: pool, key: `avito:${a}` }),
    maxAccounts: 50,
  });
  const names = Array.from({ length: 20 }, (_, i) => `restart-${i}`);
  for (const a of names) await seed(a);
  const first = await Promise.all(names.map((a) => accounts.manager(a).getAccessToken()));
  assert.equal(mock.counts.refresh, 20);
  const before = new Map();
  for (const a of names) before.set(a, await stored(a));
  // The server goes down (sessions ended) and comes back while the fleet keeps asking.
  server.stop("fast");
  const during = await Promise.allSettled(names.map((a) => { const tm = accounts.manager(a); tm.invalidate(); return tm.getAccessToken(); }));
  assert.ok(during.every((r) => r.status === "rejected"), "no renewal can succeed without the store");
  assert.equal(mock.counts.refresh, 20, "nothing was sent to the token server while the store was down");
  server.start();
  for (const a of names) assert.deepEqual(await stored(a), before.get(a), `${a}: the stored set survived the restart`);
  const again = await Promise.all(names.map((a) => { const tm = accounts.manager(a); tm.invalidate(); return tm.getAccessToken(); }));
  assert.equal(mock.counts.refresh, 40, "one renewal per account after the restart");
  const presented = mock.requests.filter((r) => r.form.grant_type === "refresh_token").slice(20).map((r) => r.form.refresh_token).sort();
  assert.deepEqual(presented, names.map((a) => before.get(a).refresh_token).sort(), "each renewal presented the refresh token stored before the restart");
  for (const [i, a] of names.entries()) {
    assert.notEqual(again[i], first[i]);
    assert.equal((await stored(a)).access_token, again[i]);
  }
});

// Issue 20: the shipped example sealed (AVITO_SEAL_KEYS, the new key first) in a database of its
// own: 30 sellers signed in through it, renewed by 4 processes; pg_dump of the whole database then
// holds no token the server issued and no 8-character piece of one.
it("30 sellers renewed by 4 processes through the sealed example: one refresh each; pg_dump holds no token and no 8-character piece of one", async () => {
  mock.reset();
  mock.tokenDelayMs = 50;
  await pool.query("DROP DATABASE IF EXISTS sealed");
  await pool.query("CREATE DATABASE sealed");
  const url = `postgres://app@127.0.0.1:${server.port}/sealed`;
  const keys = [NEW_KEY, OLD_KEY];
  const { createAccounts } = await scratchImport("node-postgres-accounts.mjs");
  const example = await createAccounts({ connectionString: url, host: mock.url, sealKeys: keys });
  try {
    const accounts = Array.from({ length: 30 }, (_, i) => `seller-${i}`);
    for (const a of accounts) await example.accounts.signIn(a, expiredSet());
    const startAt = Date.now() + 2500;
    const outs = await Promise.all(Array.from({ length: 4 }, () => renewer(accounts, { startAt, leaseMs: 10_000, url, sealKeys: keys }).done));
    const perProcess = outs.map(results);
    for (const a of accounts) {
      const seen = new Set(perProcess.map((m) => m.get(a)));
      assert.equal(seen.size, 1, `${a}: ${[...seen].join(" | ")}`);
      assert.match(String([...seen][0]), /^at_/);
      assert.equal(await example.accounts.manager(a).getAccessToken(), [...seen][0], `${a}: the sealed row opens to the renewed set`);
    }
    assert.equal(mock.counts.refresh, accounts.length, "one refresh per seller");
    const dump = execFileSync(path.join(postgresBin(), "pg_dump"), ["-h", "127.0.0.1", "-p", String(server.port), "-U", "app", "-d", "sealed"], { encoding: "utf8" });
    assertSwept(dump, mock.state.issued, { what: "pg_dump", kid: NEW_KEY.id, records: accounts.length });
    // The sweep reads pg_dump's form of a jsonb row: a plaintext row's token is found in it.
    await example.pool.query("INSERT INTO avito_tokens (key, token_set) VALUES ('control', $1)", [JSON.stringify({ refresh_token: mock.state.issued[0] })]);
    const control = execFileSync(path.join(postgresBin(), "pg_dump"), ["-h", "127.0.0.1", "-p", String(server.port), "-U", "app", "-d", "sealed", "-t", "avito_tokens"], { encoding: "utf8" });
    assert.deepEqual(leakedTokens(control, mock.state.issued), [mock.state.issued[0]]);
  } finally {
    await example.close();
  }
});

/** Runs one process (its own Node, its own pool) and returns what it printed. */
function healthProcess(action, account, apiPath = "") {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [PROCESS, SCRATCH, server.url, mock.url, action, account, apiPath], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return reject(new Error(`${action} printed no result (${err?.message}): ${stdout}${stderr}`));
      resolve(JSON.parse(line.slice(7)));
    });
  });
}

it("two processes: a failed renewal, a recovery, a missing scope, a refusal and a sign-out, as the other process's status() reports them", async () => {
  mock.reset();
  const secrets = ["demo-secret"];
  const refresh = mock.grantRefresh("demo-client", "messenger:read");
  secrets.push(refresh, "old-access");
  const key = "avito:seller-1";
  await pool.query("DELETE FROM avito_tokens WHERE key = $1", [key]);
  const seeded = { access_token: "old-access", refresh_token: refresh, token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1, scope: "messenger:read", scopes: ["messenger:read"] };
  assert.equal(await new store.PostgresTokenStore({ client: pool, key }).compareAndSet(undefined, seeded), true);
  const statuses = [];
  const status = async () => {
    const { health } = await healthProcess("status", "seller-1");
    statuses.push(health);
    return health;
  };

  let s = await status();
  assert.equal(s.state, "ok");
  assert.equal(s.consecutiveFailures, 0);
  assert.equal(s.lastFailure, null);

  // 1. A failed renewal in process A (503 on every attempt): process B sees it failing.
  const unavailable = { status: 503, json: { error: "temporarily_unavailable" } };
  mock.script(unavailable, unavailable, unavailable);
  const failed = await healthProcess("token", "seller-1");
  assert.equal(failed.error?.kind, "http");
  assert.deepEqual(failed.events.filter((e) => e.type === "renewal_finished").map((e) => [e.outcome, e.kind, e.status, e.accountId]), [["failed", "http", 503, "seller-1"]]);
  s = await status();
  assert.equal(s.state, "failing");
  assert.equal(s.consecutiveFailures, 1);
  assert.deepEqual([s.lastFailure.kind, s.lastFailure.status, s.lastFailure.error], ["http", 503, "temporarily_unavailable"]);
  mock.script(unavailable, unavailable, unavailable);
  await healthProcess("token", "seller-1");
  assert.equal((await status()).consecutiveFailures, 2, "each failed presentation counts");

  // 2. Renewed by A: B sees it ok again, the last failure kept on record.
  const renewed = await healthProcess("token", "seller-1");
  assert.match(renewed.token, /^at_/);
  secrets.push(renewed.token, (await pool.query("SELECT token_set FROM avito_tokens WHERE key = $1", [key])).rows[0].token_set.refresh_token);
  s = await status();
  assert.equal(s.state, "ok");
  assert.equal(s.consecutiveFailures, 0);
  assert.ok(s.lastRenewalAt >= s.lastFailure.at);
  assert.ok(s.expiresAt > Date.now());

  // 3. A 403 for a scope never granted: no renewal, and B sees the missing scope.
  mock.apiScopes = { [SELF]: "user:read" };
  const refreshes = mock.counts.refresh;
  const refused = await healthProcess("fetch", "seller-1", SELF);
  assert.equal(refused.status, 403);
  assert.equal(mock.counts.refresh, refreshes, "no renewal");
  assert.deepEqual(refused.events.filter((e) => e.type === "api_refused").map((e) => [e.action, e.reason, e.missingScopes]), [["handed_back", "missing_scopes", ["user:read"]]]);
  s = await status();
  assert.deepEqual(s.missingScopes, ["user:read"]);
  assert.equal(s.state, "ok");

  // 4. The server refuses the refresh token (invalid_grant) to A: B sees sign_in_required.
  await pool.query("UPDATE avito_tokens SET token_set = jsonb_set(token_set, '{expires_at}', '0') WHERE key = $1", [key]);
  mock.script({ status: 400, json: { error: "invalid_grant" } });
  const dead = await healthProcess("token", "seller-1");
  assert.equal(dead.error?.signInRequired, true);
  assert.deepEqual(dead.events.filter((e) => e.type === "sign_in_required").map((e) => e.reason), ["refused"]);
  s = await status();
  assert.equal(s.state, "sign_in_required");
  assert.equal(s.lastFailure.error, "invalid_grant");
  assert.equal(s.consecutiveFailures, 1);

  // 5. A signs the seller out: B sees signed_out.
  const out = await healthProcess("signout", "seller-1");
  assert.deepEqual(out.events.map((e) => [e.type, e.accountId]), [["signed_out", "seller-1"]]);
  s = await status();
  assert.equal(s.state, "signed_out");

  mock.reset();
  const texts = [...statuses, failed, renewed, refused, dead, out].map((x) => JSON.stringify(x.events ?? x));
  for (const text of texts) for (const secret of secrets) assert.ok(!text.includes(secret), `a secret in ${text}`);
});
