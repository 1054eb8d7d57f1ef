// status() across processes (issue 21, part 2): two Node processes share a real PostgreSQL store
// (Debian's, initdb'd here on 127.0.0.1); what one process's renewal or sign-out records in the
// stored set, the other process's `accounts.status(id)` reports — after a failed renewal, a
// recovery, a 403 for a scope never granted, the server's refusal of the refresh token, and a
// sign-out. Nothing secret in any status or event.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, symlinkSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { startPostgres } from "../support/postgres.mjs";

const PROCESS = path.join(ROOT, "tests/fleet/health-process.mjs");
const SELF = "/core/v1/accounts/self"; // GET, declares user:read
let server, pool, mock, store;

before(async () => {
  const pgDir = path.dirname(createRequire(import.meta.url).resolve("pg/package.json"));
  if (!existsSync(path.join(SCRATCH, "node_modules/pg"))) symlinkSync(pgDir, path.join(SCRATCH, "node_modules/pg"));
  server = await startPostgres();
  const pg = (await import("pg")).default;
  pool = new pg.Pool({ ...server.config, max: 4 });
  pool.on("error", () => {});
  store = await import(pathToFileURL(path.join(SCRATCH, "postgres.mjs")).href);
  await store.createTable(pool);
  mock = await startMockAvito();
});
after(async () => {
  await pool?.end();
  server?.close();
  await mock?.close();
});

/** Runs one process (its own Node, its own pool) and returns what it printed. */
function run(action, account, apiPath = "") {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [PROCESS, SCRATCH, server.url, mock.url, action, account, apiPath], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (!line) return reject(new Error(`${action} printed no result (${err?.message}): ${stdout}${stderr}`));
      resolve(JSON.parse(line.slice(7)));
    });
  });
}

it("two processes: a failed renewal, a recovery, a missing scope, a refusal and a sign-out, as the other process's status() reports them", async () => {
  const secrets = ["demo-secret"];
  const refresh = mock.grantRefresh("demo-client", "messenger:read");
  secrets.push(refresh, "old-access");
  const key = "avito:seller-1";
  await pool.query("DELETE FROM avito_tokens WHERE key = $1", [key]);
  const seeded = { access_token: "old-access", refresh_token: refresh, token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1, scope: "messenger:read", scopes: ["messenger:read"] };
  assert.equal(await new store.PostgresTokenStore({ client: pool, key }).compareAndSet(undefined, seeded), true);
  const statuses = [];
  const status = async () => {
    const { health } = await run("status", "seller-1");
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
  const failed = await run("token", "seller-1");
  assert.equal(failed.error?.kind, "http");
  assert.deepEqual(failed.events.filter((e) => e.type === "renewal_finished").map((e) => [e.outcome, e.kind, e.status, e.accountId]), [["failed", "http", 503, "seller-1"]]);
  s = await status();
  assert.equal(s.state, "failing");
  assert.equal(s.consecutiveFailures, 1);
  assert.deepEqual([s.lastFailure.kind, s.lastFailure.status, s.lastFailure.error], ["http", 503, "temporarily_unavailable"]);
  mock.script(unavailable, unavailable, unavailable);
  await run("token", "seller-1");
  assert.equal((await status()).consecutiveFailures, 2, "each failed presentation counts");

  // 2. Renewed by A: B sees it ok again, the last failure kept on record.
  const renewed = await run("token", "seller-1");
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
  const refused = await run("fetch", "seller-1", SELF);
  assert.equal(refused.status, 403);
  assert.equal(mock.counts.refresh, refreshes, "no renewal");
  assert.deepEqual(refused.events.filter((e) => e.type === "api_refused").map((e) => [e.action, e.reason, e.missingScopes]), [["handed_back", "missing_scopes", ["user:read"]]]);
  s = await status();
  assert.deepEqual(s.missingScopes, ["user:read"]);
  assert.equal(s.state, "ok");

  // 4. The server refuses the refresh token (invalid_grant) to A: B sees sign_in_required.
  await pool.query("UPDATE avito_tokens SET token_set = jsonb_set(token_set, '{expires_at}', '0') WHERE key = $1", [key]);
  mock.script({ status: 400, json: { error: "invalid_grant" } });
  const dead = await run("token", "seller-1");
  assert.equal(dead.error?.signInRequired, true);
  assert.deepEqual(dead.events.filter((e) => e.type === "sign_in_required").map((e) => e.reason), ["refused"]);
  s = await status();
  assert.equal(s.state, "sign_in_required");
  assert.equal(s.lastFailure.error, "invalid_grant");
  assert.equal(s.consecutiveFailures, 1);

  // 5. A signs the seller out: B sees signed_out.
  const out = await run("signout", "seller-1");
  assert.deepEqual(out.events.map((e) => [e.type, e.accountId]), [["signed_out", "seller-1"]]);
  s = await status();
  assert.equal(s.state, "signed_out");

  const texts = [...statuses, failed, renewed, refused, dead, out].map((x) => JSON.stringify(x.events ?? x));
  for (const text of texts) for (const secret of secrets) assert.ok(!text.includes(secret), `a secret in ${text}`);
});
