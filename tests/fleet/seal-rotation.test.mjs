// Issue 20 on a real PostgreSQL server (Debian's, initdb'd here on 127.0.0.1): sealing keys rotated
// under a live fleet of Node processes sharing one table, following the README's procedure —
// every process gets [old, new] (the new key LAST: it opens, it does not seal), then the
// processes switch to [new, old] (a fleet mixing both orders), reseal() over every seller, then
// processes with [new] alone — while the sellers' short-lived tokens keep being renewed against a
// token server that refuses a replayed refresh token (invalid_grant) and logs every grant. Then
// records that do not open (a changed byte, a row copied to another seller, an unknown key id, a
// cut value): loud `store` failures naming the key id and the seller, and nothing overwritten.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startPostgres } from "../support/postgres.mjs";
import { startRotatingTokenServer } from "../support/rotating-token-server.mjs";
import { NEW_KEY, OLD_KEY } from "../support/seal.mjs";

const PROCESS = path.join(ROOT, "tests/fleet/seal-rotation-process.mjs");
const scratchImport = (f) => import(pathToFileURL(path.join(SCRATCH, f)).href);
const { AccountTokens, AvitoAuth, ApiException, TokenManager, sealedStore } = await scratchImport("esm.mjs");
const { PostgresTokenStore, createTable } = await scratchImport("postgres.mjs");
let server, pool, tokens;

before(async () => {
  server = await startPostgres();
  const pg = (await import("pg")).default;
  pool = new pg.Pool({ ...server.config, max: 10 });
  pool.on("error", () => {});
  await createTable(pool);
  tokens = await startRotatingTokenServer({ expiresIn: 2 });
});
after(async () => {
  await pool?.end();
  server?.close();
  await tokens?.close();
});

const storeOf = (seller) => new PostgresTokenStore({ client: pool, key: `avito:${seller}` });
const sealedOf = (seller, keys) => sealedStore(storeOf(seller), { keys, context: seller });
const accountsWith = (keys, options) => new AccountTokens({ auth: new AvitoAuth({ clientId: "soak-client", clientSecret: "soak-secret", host: tokens.url, retries: false }), store: storeOf, seal: { keys }, ...options });
const row = async (seller) => (await pool.query("SELECT token_set::text AS text FROM avito_tokens WHERE key = $1", [`avito:${seller}`])).rows[0]?.text;
const kids = async () => (await pool.query("SELECT key, token_set->'sealed'->>'kid' AS kid FROM avito_tokens WHERE token_set IS NOT NULL ORDER BY key")).rows;

/** One fleet process (seal-rotation-process.mjs): its ERROR lines, TOKEN lines and DONE counts. */
function fleetProcess(name, keys, sellers, runMs) {
  const config = { name, databaseUrl: server.url, host: tokens.url, keys, sellers, runMs };
  const p = spawn(process.execPath, [PROCESS, SCRATCH, JSON.stringify(config)], { cwd: ROOT });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  const timer = setTimeout(() => p.kill("SIGKILL"), runMs + 30_000);
  return new Promise((resolve) => p.on("close", (code) => {
    clearTimeout(timer);
    const done = /^DONE (\d+) (\d+)$/m.exec(out);
    resolve({ name, out, code, errors: out.split("\n").filter((l) => l.startsWith("ERROR ")), tokens: new Map([...out.matchAll(/^TOKEN (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]])), calls: Number(done?.[1] ?? -1), refused: Number(done?.[2] ?? -1) });
  }));
}
/** Runs the processes of one phase ([name, keys, sellers, runMs, delayMs]) at once; each must end cleanly, every API call answered 200. */
async function phase(processes) {
  const started = (delayMs) => new Promise((r) => setTimeout(r, delayMs));
  const ran = await Promise.all(processes.map(async ([name, keys, sellers, runMs = 2500, delayMs = 0]) => (await started(delayMs), fleetProcess(name, keys, sellers, runMs))));
  for (const r of ran) {
    assert.deepEqual(r.errors, [], `${r.name}: ${r.out.slice(-2000)}`);
    assert.equal(r.code, 0, `${r.name} exited ${r.code}: ${r.out.slice(-2000)}`);
    assert.ok(r.calls > 0 && r.refused === 0, `${r.name}: ${r.calls} calls, ${r.refused} not answered 200`);
  }
  return ran;
}

it("keys rotated under a live fleet ([old] → [old,new] → [new,old] mixed → reseal → [new]): no sign-in, no lost rotation, every record sealed with the new key", async () => {
  const sellers = Array.from({ length: 12 }, (_, i) => `rot-${i}`);
  const dormant = ["dormant-1", "dormant-2"]; // signed in, never used: only reseal() moves them to the new key
  const chainOf = new Map();
  const signIn = accountsWith([OLD_KEY]);
  for (const seller of [...sellers, ...dormant]) {
    const set = tokens.signIn({ via: "seed" });
    chainOf.set(seller, tokens.refresh.get(set.refresh_token).chain);
    await signIn.signIn(seller, { ...set, expires_at: Date.now() + 1000 * set.expires_in });
  }
  assert.ok((await kids()).every((r) => r.kid === OLD_KEY.id));
  const refreshesBy = (name) => tokens.requests.filter((r) => r.grant === "refresh_token" && r.worker === name);

  // Step 1, rolling out [old, new]: processes with [old] and with [old, new] side by side.
  await phase([["A-old", [OLD_KEY], sellers], ["A-old-new", [OLD_KEY, NEW_KEY], sellers]]);
  assert.ok((await kids()).every((r) => r.kid === OLD_KEY.id), "a key added last does not seal");
  // Step 2, switching to [new, old] process by process: both orders side by side, the [new, old]
  // process first (its records sealed with the new key are then renewed by [old, new] too).
  await phase([["B-new-old", [NEW_KEY, OLD_KEY], sellers, 4000], ["B-old-new", [OLD_KEY, NEW_KEY], sellers, 2500, 1500]]);
  // A record sealed by one order renewed by the other, both ways: a seller's record is sealed by
  // the process of its last grant (the seed: the old key).
  const sealsWith = (worker) => (/^(A-|B-old-new)/.test(worker) ? OLD_KEY.id : NEW_KEY.id);
  const crossings = new Set();
  for (const seller of sellers) {
    let sealer = OLD_KEY.id;
    for (const r of tokens.requests.filter((q) => q.grant === "refresh_token" && tokens.refresh.get(q.rt)?.chain === chainOf.get(seller))) {
      if (sealsWith(r.worker) !== sealer) crossings.add(`${sealer} → ${r.worker}`);
      sealer = sealsWith(r.worker);
    }
  }
  assert.ok(crossings.has(`${OLD_KEY.id} → B-new-old`) && crossings.has(`${NEW_KEY.id} → B-old-new`), `records renewed across key orders: ${[...crossings].join(", ")}`);
  // Step 3: reseal() over every seller while the [new, old] fleet renews.
  const fleet = phase([["C-new-old-1", [NEW_KEY, OLD_KEY], sellers], ["C-new-old-2", [NEW_KEY, OLD_KEY], sellers]]);
  await new Promise((r) => setTimeout(r, 800));
  const outcomes = new Map();
  for (const seller of [...sellers, ...dormant]) outcomes.set(seller, await sealedOf(seller, [NEW_KEY, OLD_KEY]).reseal());
  await fleet;
  for (const seller of dormant) assert.equal(outcomes.get(seller), "resealed", seller);
  for (const [seller, outcome] of outcomes) assert.ok(["resealed", "current"].includes(outcome), `${seller}: ${outcome}`);
  assert.deepEqual((await kids()).filter((r) => r.kid !== NEW_KEY.id), [], "every record sealed with the new key after reseal()");
  // Step 4: the old key dropped.
  await phase([["D-new-1", [NEW_KEY], sellers], ["D-new-2", [NEW_KEY], sellers]]);

  for (const name of ["A-old", "A-old-new", "B-old-new", "B-new-old", "C-new-old-1", "C-new-old-2", "D-new-1", "D-new-2"]) {
    assert.ok(refreshesBy(name).length > 0, `${name} renewed no seller`);
  }
  const grants = tokens.requests.filter((r) => r.grant === "refresh_token");
  assert.ok(grants.length >= 4 * sellers.length, `${grants.length} renewals`);
  assert.deepEqual(grants.filter((r) => r.outcome !== "rotated").map((r) => `${r.worker}: ${r.outcome}`), [], "every grant presented the current refresh token and its answer was delivered");
  assert.equal(tokens.signIns.filter((x) => x.via !== "seed").length, 0, "no sign-in");
  // Every seller's stored refresh token, opened with the new key alone, is the last one issued in its chain.
  for (const seller of [...sellers, ...dormant]) {
    const lastIssued = [...tokens.refresh.entries()].filter(([, r]) => r.chain === chainOf.get(seller)).at(-1);
    const stored = await sealedOf(seller, [NEW_KEY]).get();
    assert.equal(stored.refresh_token, lastIssued[0], `${seller}: the stored refresh token is the last issued`);
    assert.equal(lastIssued[1].state, "live");
    assert.equal(stored.renewal, undefined, `${seller}: unmarked`);
  }
  assert.deepEqual((await kids()).filter((r) => r.kid !== NEW_KEY.id), []);

  // A process left with only the old key meets records sealed with the new one: it fails loudly,
  // names the key id and the seller, sends nothing to the token server, and changes nothing.
  const before = new Map();
  for (const seller of sellers) before.set(seller, await row(seller));
  const sent = tokens.requests.length;
  const stale = await fleetProcess("E-old-only", [OLD_KEY], sellers.slice(0, 4), 0);
  assert.equal(stale.errors.length, 4, stale.out);
  for (const seller of sellers.slice(0, 4)) {
    const line = stale.errors.find((l) => l.startsWith(`ERROR ${seller} `)) ?? `no error for ${seller}: ${stale.out}`;
    assert.match(line, new RegExp(`^ERROR ${seller} store .*context "${seller}" sealed with key "${NEW_KEY.id}" cannot be opened: that key id is not in keys`), line);
    assert.doesNotMatch(line, /signInRequired/);
  }
  assert.equal(tokens.requests.length, sent, "nothing was sent to the token server");
  for (const seller of sellers) assert.equal(await row(seller), before.get(seller), `${seller}: the record is as it was`);
  const reopened = await fleetProcess("E-new", [NEW_KEY, OLD_KEY], sellers.slice(0, 4), 0);
  assert.deepEqual(reopened.errors, [], reopened.out);
  assert.equal(reopened.tokens.size, 4, "the records open with the right keys");
});

// Each way a stored record can fail to open, made with SQL on the real table. The right keys are
// given throughout: nothing can open these records, and nothing may write over them (the seller's
// set may still be recovered: the row restored from a backup, the lost key found).
const change = (text, i) => text.slice(0, i) + (text[i] === "A" ? "B" : "A") + text.slice(i + 1);
const UNOPENED = [
  ["a byte changed in sealed.data", (r) => ({ ...r, sealed: { ...r.sealed, data: change(r.sealed.data, r.sealed.data.length >> 1) } }), "victim", NEW_KEY.id, /does not open/],
  ["a byte changed in the IV", (r) => ({ ...r, sealed: { ...r.sealed, iv: change(r.sealed.iv, 3) } }), "victim", NEW_KEY.id, /does not open/],
  ["a fingerprint changed", (r, other) => ({ ...r, refresh_token: other.refresh_token }), "victim", NEW_KEY.id, /does not open/],
  ["another seller's row copied onto this seller's key", (r, other) => other, "victim", NEW_KEY.id, /does not open: it was changed, cut short, or sealed for another context/],
  ["an unknown key id", (r) => ({ ...r, sealed: { ...r.sealed, kid: "2025-01" } }), "victim", "2025-01", /cannot be opened: that key id is not in keys \(given: "2026-12", "2026-06"\)/],
  ["sealed.data cut short by 4 characters", (r) => ({ ...r, sealed: { ...r.sealed, data: r.sealed.data.slice(0, -4) } }), "victim", NEW_KEY.id, /broken seal|does not open/],
  ["the ciphertext cut short by one byte", (r) => ({ ...r, sealed: { ...r.sealed, data: Buffer.from(r.sealed.data, "base64url").subarray(0, -1).toString("base64url") } }), "victim", NEW_KEY.id, /does not open/],
  ["sealed.data cut to 12 characters", (r) => ({ ...r, sealed: { ...r.sealed, data: r.sealed.data.slice(0, 12) } }), "victim", NEW_KEY.id, /cut short/],
  ["the envelope without its data", (r) => ({ ...r, sealed: { v: 1, kid: r.sealed.kid, iv: r.sealed.iv } }), "victim", NEW_KEY.id, /cut short/],
];

it("a record that does not open (a changed byte, a row moved to another seller, an unknown key id, a cut value) is a store failure naming the key id and the seller, never an empty store: nothing overwrites it", async () => {
  const keys = [NEW_KEY, OLD_KEY];
  // A sign-in or sign-out keeps trying a failing store for 3 × leaseMs before it gives up.
  const accounts = accountsWith(keys, { leaseMs: 100 });
  const issued = new Map();
  for (const seller of ["victim", "other"]) {
    const set = tokens.signIn({ via: "seed" });
    issued.set(seller, set);
    await accounts.signIn(seller, { ...set, expires_at: Date.now() + 3_600_000 });
  }
  const intact = JSON.parse(await row("victim"));
  const other = JSON.parse(await row("other"));
  const secrets = [...issued.values()].flatMap((s) => [s.access_token, s.refresh_token]);
  const auth = new AvitoAuth({ clientId: "soak-client", clientSecret: "soak-secret", host: tokens.url, retries: false });
  for (const [what, broken, seller, kid, why] of UNOPENED) {
    await pool.query("UPDATE avito_tokens SET token_set = $1 WHERE key = $2", [JSON.stringify(broken(structuredClone(intact), other)), `avito:${seller}`]);
    const stored = await row(seller);
    const sent = tokens.requests.length;
    const loud = (e) => {
      assert.ok(e instanceof ApiException, `${what}: ${e}`);
      assert.equal(e.kind, "store", `${what}: ${e.message}`);
      assert.match(e.message, new RegExp(`context "${seller}" sealed with key "${kid}"`), what);
      assert.match(e.message, why, what);
      assert.equal(e.signInRequired, false, `${what}: a record that does not open is not a sign-in to ask for`);
      for (const shown of [e.message, String(e), JSON.stringify(e), e.stack]) {
        for (const secret of secrets) assert.ok(!String(shown).includes(secret), `${what}: a token in the failure`);
      }
      return true;
    };
    await assert.rejects(sealedOf(seller, keys).get(), loud, what);
    await assert.rejects(sealedOf(seller, keys).reseal(), loud, `${what}: reseal()`);
    // A manager given a seed (an empty store would take it), the fleet's manager, a new sign-in.
    const fresh = tokens.signIn({ via: "seed" });
    await assert.rejects(new TokenManager({ auth, tokens: fresh, store: sealedOf(seller, keys) }).getAccessToken(), loud, `${what}: a seeded TokenManager`);
    accounts.forget(seller);
    await assert.rejects(accounts.manager(seller).fetch(`${tokens.url}/core/v1/accounts/self`), loud, `${what}: tm.fetch`);
    await assert.rejects(accounts.signIn(seller, fresh), loud, `${what}: AccountTokens.signIn`);
    await assert.rejects(accounts.signOut(seller), loud, `${what}: AccountTokens.signOut`);
    assert.equal(await row(seller), stored, `${what}: the record was written over`);
    assert.equal(tokens.requests.length, sent, `${what}: a request reached the token server`);
    // Restored (from a backup, say), it opens again to the seller's own set.
    await pool.query("UPDATE avito_tokens SET token_set = $1 WHERE key = $2", [JSON.stringify(intact), "avito:victim"]);
    assert.equal((await sealedOf("victim", keys).get()).refresh_token, issued.get("victim").refresh_token, what);
  }
  // The moved row is the other seller's own set: under its own key it opens.
  assert.equal((await sealedOf("other", keys).get()).refresh_token, issued.get("other").refresh_token);
});
