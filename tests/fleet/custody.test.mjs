// Custody of a seller's tokens across processes, on a real PostgreSQL server and a real
// redis-server on 127.0.0.1 (tests/fleet/custody-worker.mjs processes, the mock Avito holding the
// refresh open with `tokenGate`): a sign-out from another process while several processes renew
// one account ends every renewal, its delivered tokens are discarded, nothing is sent after it;
// and PostgreSQL crashing (`pg_ctl stop -m immediate`) as the token answer arrives costs nothing:
// the caller gets the new token, the background write stores it once the server is back, and the
// next refresh presents it.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { startPostgres } from "../support/postgres.mjs";
import { startRedis } from "../support/redis.mjs";

const WORKER = path.join(ROOT, "tests/fleet/custody-worker.mjs");
const scratchImport = (f) => import(pathToFileURL(path.join(SCRATCH, f)).href);
const { PostgresTokenStore, createTable } = await scratchImport("postgres.mjs");
const { RedisTokenStore, leaseKeyOf } = await scratchImport("redis.mjs");
const { AvitoAuth } = await scratchImport("esm.mjs");
let postgres, pool, redis, mock, auth;
const backends = {};

before(async () => {
  postgres = await startPostgres();
  const { default: pg } = await import("pg");
  pool = new pg.Pool({ ...postgres.config, max: 4 });
  pool.on("error", () => {}); // connections the crash test's server drops
  await createTable(pool);
  redis = await startRedis();
  // Tokens live 30 s, inside the 60 s default skew: every call renews.
  mock = await startMockAvito({ expiresIn: 30 });
  auth = new AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: mock.url, retries: false });
  backends.postgres = {
    url: postgres.url,
    store: (key) => new PostgresTokenStore({ client: pool, key }),
    clear: (key) => pool.query("DELETE FROM avito_tokens WHERE key = $1", [key]),
  };
  backends.redis = {
    url: redis.url,
    store: (key) => new RedisTokenStore({ client: redis.client, key }),
    clear: (key) => redis.client.del([key, leaseKeyOf(key)]),
  };
});
after(async () => {
  await pool?.end();
  postgres?.close();
  await redis?.close();
  await mock?.close();
});

/** A custody worker process: `ask(command)` resolves with its answer line. */
function worker(backend, key, { leaseMs = 5000, timeoutMs = 30_000 } = {}) {
  const p = spawn(process.execPath, [WORKER, SCRATCH, backend, backends[backend].url, mock.url, key, String(leaseMs), String(timeoutMs)], { cwd: ROOT });
  let output = "";
  const answers = [];
  let ready;
  const started = new Promise((r) => (ready = r));
  createInterface({ input: p.stdout }).on("line", (line) => {
    output += `${line}\n`;
    if (line === "READY") ready();
    else answers.shift()?.(line);
  });
  p.stderr.on("data", (d) => (output += d));
  const exited = new Promise((r) => p.on("close", r));
  // A process that dies answers every pending question with its output.
  exited.then((code) => {
    ready();
    for (const answer of answers.splice(0)) answer(`EXITED ${code}: ${output}`);
  });
  return {
    started,
    output: () => output,
    ask(command) {
      const answer = new Promise((r) => answers.push(r));
      p.stdin.write(`${command}\n`);
      return answer;
    },
    end() {
      p.stdin.end();
      return exited;
    },
  };
}

async function until(condition, what, ms = 30_000) {
  for (const end = Date.now() + ms; !(await condition().catch(() => false)); ) {
    if (Date.now() > end) assert.fail(`still not so after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Holds the mock's token requests open until the returned function is called. */
function holdTokenRequests() {
  let release;
  mock.tokenGate = new Promise((r) => (release = r));
  return () => {
    mock.tokenGate = undefined;
    release();
  };
}

/** A seller's sign-in, its access token expired, stored fresh under `key`. */
async function seedSignIn(backend, key) {
  await backends[backend].clear(key);
  const signedIn = { ...(await auth.exchangeCode(mock.grantCode())), expires_at: Date.now() - 1 };
  assert.equal(await backends[backend].store(key).compareAndSet(undefined, signedIn), true);
  return signedIn;
}

function isTombstone(set) {
  assert.deepEqual(Object.keys(set ?? {}), ["signed_out_at"], JSON.stringify(set));
  assert.equal(typeof set.signed_out_at, "number");
}

const SIGN_IN_REQUIRED = /^ERROR \S+ signInRequired /;

/** No worker printed a secret the mock saw or issued (codes, tokens, the client secret). */
function sweepSecrets(outputs) {
  const secrets = new Set(["demo-secret", ...mock.state.refresh.keys(), ...mock.state.access.keys()]);
  for (const { form } of mock.requests) for (const k of ["code", "refresh_token"]) if (form[k]) secrets.add(form[k]);
  for (const out of outputs) {
    for (const line of out.split("\n").filter((l) => !l.startsWith("TOKEN "))) {
      for (const s of secrets) assert.ok(!line.includes(s), `a secret in a worker's line: ${line.slice(0, 80)}`);
    }
  }
}

for (const backend of ["postgres", "redis"]) {
  for (const via of ["manager", "accounts"]) {
    it(`${backend}: 4 processes renewing one account, the refresh held open, another process signs out (${via === "manager" ? "TokenManager" : "AccountTokens"}): every process answers signInRequired, now and next, the tombstone stays, nothing more is sent`, async () => {
      mock.reset();
      const key = `custody:${backend}:${via}`;
      const signedIn = await seedSignIn(backend, key);
      const renewers = Array.from({ length: 4 }, () => worker(backend, key));
      const signer = worker(backend, key);
      const all = [...renewers, signer];
      try {
        await Promise.all(all.map((w) => w.started));
        const release = holdTokenRequests();
        const first = renewers.map((w) => w.ask("token"));
        await until(async () => mock.counts.refresh === 1, "one renewer's refresh reached the server");
        // The others are meanwhile reading the store and waiting on the renewer's mark.
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(await signer.ask(`signout-${via}`), "SIGNED_OUT");
        isTombstone(await backends[backend].store(key).get());
        release();
        for (const answer of await Promise.all(first)) assert.match(answer, SIGN_IN_REQUIRED);
        // The held refresh was answered (the server rotated), and its tokens were discarded.
        assert.ok(!mock.state.refresh.has(signedIn.refresh_token), "the presented refresh token was spent");
        isTombstone(await backends[backend].store(key).get());
        for (const answer of await Promise.all(all.map((w) => w.ask("token")))) assert.match(answer, SIGN_IN_REQUIRED);
        assert.equal(mock.counts.refresh, 1, "one refresh in all, none after the sign-out");
        assert.equal(mock.counts.token, 2, "the sign-in's code exchange and that refresh");
        isTombstone(await backends[backend].store(key).get());
      } finally {
        await Promise.all(all.map((w) => w.end()));
      }
      sweepSecrets(all.map((w) => w.output()));
    });
  }
}

// The renewal's lease release fails too (the server is down): the lease expires by itself, and
// until then the manager hands out the delivered token, still valid, without a request. A lease of
// 6 s here (a 5 s request timeout + 1 s) instead of the default 31 s.
it("postgres: the server crashes (pg_ctl stop -m immediate) as the token answer arrives and is back 2 s later: the caller gets the new token, the background write stores it, and the next refresh presents it", async () => {
  mock.reset();
  const key = "custody:crash";
  const signedIn = await seedSignIn("postgres", key);
  const renewer = worker("postgres", key, { leaseMs: 2000, timeoutMs: 5000 });
  const stored = async () => (await pool.query("SELECT token_set FROM avito_tokens WHERE key = $1", [key])).rows[0]?.token_set;
  try {
    await renewer.started;
    const release = holdTokenRequests();
    const answer = renewer.ask("token");
    await until(async () => mock.counts.refresh === 1, "the refresh reached the server");
    postgres.stop("immediate");
    let restarted = false;
    try {
      release();
      const line = await answer;
      assert.match(line, /^TOKEN at_/, "the delivered token is handed out while the store is down");
      const token = line.slice("TOKEN ".length);
      await new Promise((r) => setTimeout(r, 2000));
      postgres.start();
      restarted = true;
      await until(async () => (await stored())?.access_token === token, "the background write stored the delivered set after the restart");
      const rotated = await stored();
      assert.ok(rotated.refresh_token && rotated.refresh_token !== signedIn.refresh_token);
      assert.equal(rotated.renewal, undefined, "no renewal mark is left");
      await until(async () => (await pool.query("SELECT lease_until IS NULL OR lease_until <= now() AS free FROM avito_tokens WHERE key = $1", [key])).rows[0].free, "the lease left by the failed release expired");
      // The next refresh presents the rotated token and the server accepts it: no sign-in.
      const next = await renewer.ask("token");
      assert.match(next, /^TOKEN at_/);
      assert.notEqual(next, line);
      assert.equal(mock.counts.refresh, 2);
      assert.equal(mock.requests.at(-1).form.refresh_token, rotated.refresh_token);
      assert.equal((await stored()).access_token, next.slice("TOKEN ".length));
    } finally {
      if (!restarted) postgres.start();
    }
  } finally {
    await renewer.end();
  }
  sweepSecrets([renewer.output()]);
});
