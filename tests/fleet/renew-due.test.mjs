// accounts.renewDue across a fleet, against a real PostgreSQL server and the mock token server
// on 127.0.0.1 (which rotates refresh tokens and records every one presented): 1,000 sellers,
// 4 processes each running the shipped cron example's renewDue over all of them while live
// traffic in the same processes asks for every seller's token. Each due seller is renewed
// exactly once (one presentation of its refresh token, fleet-wide) and none is lost; fresh
// sellers are untouched; refused and signed-out sellers are sign_in_required. The cron script
// itself then runs as cron would run it.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { startPostgresFleet } from "../support/postgres.mjs";

const PROCESS = path.join(ROOT, "tests/fleet/renew-due-process.mjs");
const EXAMPLE = path.join(SCRATCH, "node-postgres-example");
const MIN = 60_000;
let server, pool, mock, store;

before(async () => {
  // The examples import "avito-auth" and "pg": run them from the scratch project (the tarball)
  // with the repository's pg resolvable beside it.
  mkdirSync(EXAMPLE, { recursive: true });
  for (const f of ["accounts.mjs", "renew-due.mjs"]) copyFileSync(path.join(ROOT, "examples/node-postgres", f), path.join(EXAMPLE, f));
  ({ server, pool, store } = await startPostgresFleet(SCRATCH));
  mock = await startMockAvito();
});
after(async () => {
  await pool?.end();
  server?.close();
  await mock?.close();
});

function run(ids, startAt) {
  const p = spawn(process.execPath, [PROCESS, EXAMPLE, server.url, mock.url, String(startAt), ids.join(",")], { cwd: ROOT });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  return new Promise((resolve) => p.on("close", (code) => resolve({ code, out })));
}
const lines = (out, tag) => out.split("\n").filter((l) => l.startsWith(`${tag} `)).map((l) => l.split(" ").slice(1));
const stored = async (id) => (await pool.query("SELECT token_set FROM avito_tokens WHERE key = $1", [`avito:${id}`])).rows[0]?.token_set;
const set = (expiresInMs, refresh_token = mock.grantRefresh()) => ({ access_token: `at_seeded_${Math.random().toString(36).slice(2)}`, refresh_token, token_type: "Bearer", expires_in: 86400, expires_at: Date.now() + expiresInMs });

it("1,000 sellers, 4 processes running renewDue beside live traffic: each due seller renewed exactly once, fresh ones untouched, refused ones sign_in_required", async () => {
  mock.reset();
  mock.tokenDelayMs = 20;
  await pool.query("DELETE FROM avito_tokens");
  // 600 due within the hour, 100 expired (live traffic may renew those first), 240 fresh, 50
  // whose refresh token the server refuses, 10 signed out.
  const groups = { due: 600, expired: 100, fresh: 240, refused: 50, signedOut: 10 };
  const seeded = new Map();
  const groupOf = new Map();
  let n = 0;
  for (const [group, count] of Object.entries(groups)) {
    for (let i = 0; i < count; i++) {
      const id = `seller-${n++}`;
      const value =
        group === "due" ? set((5 + (i % 50)) * MIN)
        : group === "expired" ? set(-MIN)
        : group === "fresh" ? set((2 + (i % 20)) * 60 * MIN)
        : group === "refused" ? set(10 * MIN, `rt_refused_${i}`)
        : { signed_out_at: Date.now() - 1000 };
      await pool.query("INSERT INTO avito_tokens (key, token_set) VALUES ($1, $2)", [`avito:${id}`, value]);
      seeded.set(id, value);
      groupOf.set(id, group);
    }
  }
  const ids = [...seeded.keys()];
  const startAt = Date.now() + 3000;
  const runs = await Promise.all(Array.from({ length: 4 }, () => run(ids, startAt)));
  mock.tokenDelayMs = 0;
  for (const r of runs) assert.equal(r.code, 0, r.out.slice(-2000));

  // The token server's count: one presentation of each due, expired and refused seller's refresh
  // token, fleet-wide; none of a fresh or signed-out seller's.
  const presented = new Map();
  for (const r of mock.requests) if (r.form.grant_type === "refresh_token") presented.set(r.form.refresh_token, (presented.get(r.form.refresh_token) ?? 0) + 1);
  for (const [id, value] of seeded) {
    const times = presented.get(value.refresh_token) ?? 0;
    const group = groupOf.get(id);
    assert.equal(times, group === "fresh" || group === "signedOut" ? 0 : 1, `${id} (${group}): presented ${times} times`);
  }
  assert.equal(mock.counts.refresh, groups.due + groups.expired + groups.refused);

  // What is stored: each renewed seller holds its successor (no mark, valid for a day), a fresh
  // one what it held, a refused one the refusal's record, a signed-out one its tombstone.
  for (const [id, value] of seeded) {
    const now = await stored(id);
    const group = groupOf.get(id);
    if (group === "due" || group === "expired") {
      assert.notEqual(now.refresh_token, value.refresh_token, id);
      assert.ok(now.refresh_token && now.access_token.startsWith("at_") && now.expires_at > Date.now() + 23 * 60 * MIN, id);
      assert.equal(now.renewal, undefined, `${id}: no mark left`);
    } else if (group === "fresh" || group === "signedOut") {
      assert.deepEqual(now, value, `${id}: untouched`);
    } else {
      assert.equal(now.refresh_token, undefined, id);
      assert.ok(now.refresh_refused_at > 0, id);
    }
  }

  // Every process has one result per seller; the due ones were renewed by exactly one process
  // (live traffic renews only what expired), the others found them fresh.
  const perProcess = runs.map((r) => new Map(lines(r.out, "RESULT").map(([id, result, kind]) => [id, { result, kind }])));
  for (const results of perProcess) assert.equal(results.size, ids.length);
  for (const id of ids) {
    const group = groupOf.get(id);
    const seen = perProcess.map((m) => m.get(id));
    const renewed = seen.filter((r) => r.result === "renewed").length;
    if (group === "due") {
      assert.equal(renewed, 1, `${id}: ${JSON.stringify(seen)}`);
      assert.ok(seen.every((r) => r.result === "renewed" || r.result === "fresh"), `${id}: ${JSON.stringify(seen)}`);
    } else if (group === "expired") {
      assert.ok(renewed <= 1 && seen.every((r) => r.result === "renewed" || r.result === "fresh"), `${id}: ${JSON.stringify(seen)}`);
    } else if (group === "fresh") {
      assert.ok(seen.every((r) => r.result === "fresh"), `${id}: ${JSON.stringify(seen)}`);
    } else {
      assert.ok(seen.every((r) => r.result === "sign_in_required"), `${id}: ${JSON.stringify(seen)}`);
    }
  }
  // Live traffic: a token for every seller that has one, sign_in_required for the others.
  for (const r of runs) {
    const live = lines(r.out, "LIVE");
    assert.equal(live.length, ids.length);
    for (const [id, token, kind, flag] of live) {
      const group = groupOf.get(id);
      if (group === "refused" || group === "signedOut") {
        // A refused seller's still-valid token may be served before the refusal is recorded.
        if (token === "ERROR") assert.ok(kind === "sign_in_required" || flag === "signInRequired", `${id}: ${token} ${kind} ${flag}`);
        else assert.equal(group, "refused", `${id}: a signed-out seller got a token`);
      } else {
        assert.match(token, /^at_/, `${id}: ${token} ${kind ?? ""}`);
      }
    }
  }
});

it("the cron script runs as cron runs it: counts on stdout, sign-ins to ask for, exit code 0", async () => {
  mock.reset();
  await pool.query("DELETE FROM avito_tokens");
  const sets = { a: set(10 * MIN), b: set(3 * 60 * MIN), c: set(-1, "rt_dead") };
  for (const [id, value] of Object.entries(sets)) await pool.query("INSERT INTO avito_tokens (key, token_set) VALUES ($1, $2)", [`avito:${id}`, value]);
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [path.join(EXAMPLE, "renew-due.mjs")], {
    env: { ...process.env, DATABASE_URL: server.url, AVITO_HOST: mock.url, AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret" },
    timeout: 60_000,
  });
  assert.equal(stderr, "");
  assert.deepEqual(stdout.trim().split("\n"), ["sign-in required: c", JSON.stringify({ renewed: 1, fresh: 1, sign_in_required: 1, failed: 0 })]);
  assert.notEqual((await stored("a")).refresh_token, sets.a.refresh_token);
  assert.deepEqual(await stored("b"), sets.b);
  assert.equal(mock.counts.refresh, 2);
  // A failed renewal makes it exit 1, with the failure on stderr.
  await pool.query("UPDATE avito_tokens SET token_set = $2 WHERE key = $1", ["avito:a", set(5 * MIN, (await stored("a")).refresh_token)]);
  mock.script({ status: 503, json: { error: "temporarily_unavailable" } });
  const failed = await promisify(execFile)(process.execPath, [path.join(EXAMPLE, "renew-due.mjs")], {
    env: { ...process.env, DATABASE_URL: server.url, AVITO_HOST: mock.url },
    timeout: 60_000,
  }).then(() => ({ code: 0 }), (e) => e);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /^failed: a \(http\): /);
});
