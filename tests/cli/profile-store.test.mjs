// The command line's file TokenStore (cli/profile-store.mjs, from the packed tarball) against the
// renewal protocol: get() round-trips every member, compareAndSet compares access_token,
// refresh_token and renewal.id as "string or absent" and matches nothing in a deleted profile,
// the lease is exclusive across processes, expires, and is released only by its holder; the
// mutex's lock file (nonce and time inside, a stale one taken over without breaking exclusion);
// files are mode 0600.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { SCRATCH } from "../support/load.mjs";

const MODULE = path.join(SCRATCH, "node_modules/avito-auth/cli/profile-store.mjs");
let lib, dir;
before(async () => {
  lib = await import(pathToFileURL(MODULE).href);
  dir = mkdtempSync(path.join(os.tmpdir(), "avito-store-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A signed-in profile without tokens yet (what login creates; a missing profile matches nothing). */
const fresh = () => {
  const profile = new lib.Profile(`p${++n}`, path.join(dir, "avito-auth"));
  profile.write({ client_id: "c" });
  return { profile, store: new lib.ProfileTokenStore(profile) };
};
/** Runs `code` (an ES module body, `lib` imported) in a new Node process; resolves to its stdout. */
const inProcess = (code) => new Promise((resolve, reject) => {
  const p = spawn(process.execPath, ["--input-type=module", "-e", `const lib = await import(${JSON.stringify(pathToFileURL(MODULE).href)});\n${code}`], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
  p.on("close", (c) => { clearTimeout(timer); c === 0 ? resolve(out) : reject(new Error(`exit ${c}`)); });
});

describe("ProfileTokenStore (the renewal protocol)", () => {
  it("get() round-trips every member, unknown and nested ones and the renewal marks", async () => {
    const { profile, store } = fresh();
    assert.equal(await store.get(), undefined);
    const set = {
      access_token: "a1", refresh_token: "r1", expires_at: 1.5e12, scope: "x,y", scopes: ["x", "y"],
      renewal: { id: "ren-1", presented_at: 1, answer_by: 2, extra: { deep: [1, { z: null }] } },
      refresh_refused_at: 3, vendor: { "ключ": "значение" },
    };
    assert.equal(await store.compareAndSet(undefined, set), true);
    assert.deepEqual(await store.get(), set);
    assert.equal(statSync(profile.file).mode & 0o777, 0o600);
    assert.equal(statSync(profile.dir).mode & 0o777, 0o700, "the folder it created");
  });

  it("compareAndSet: undefined/null match only an empty store; then access_token, refresh_token, renewal.id", async () => {
    const { store } = fresh();
    const base = { access_token: "a", refresh_token: "r", renewal: { id: "i" }, other: 1 };
    assert.equal(await store.compareAndSet(null, base), true);
    assert.equal(await store.compareAndSet(undefined, { access_token: "x" }), false, "not empty any more");
    assert.equal(await store.compareAndSet(null, { access_token: "x" }), false);
    for (const [expected, why] of [
      [{ ...base, access_token: "a2" }, "access_token differs"],
      [{ ...base, refresh_token: "r2" }, "refresh_token differs"],
      [{ ...base, refresh_token: undefined }, "refresh_token absent"],
      [{ ...base, renewal: { id: "j" } }, "renewal.id differs"],
      [{ ...base, renewal: undefined }, "renewal absent"],
    ]) assert.equal(await store.compareAndSet(expected, { access_token: "bad" }), false, why);
    // Only the three are compared; anything else may differ. Non-strings count as absent.
    assert.equal(await store.compareAndSet({ ...base, other: 2, expires_at: 9 }, { access_token: "b", refresh_token: 5, renewal: null }), true);
    assert.equal(await store.compareAndSet({ access_token: "b", refresh_token: null, renewal: { id: 7 } }, { access_token: "c" }), true);
    assert.deepEqual(await store.get(), { access_token: "c" });
  });

  it("the lease: exclusive, expires after ttlMs, released only by its holder's id", async () => {
    const { profile, store } = fresh();
    const first = await store.acquireLease(300);
    assert.equal(typeof first, "string");
    assert.equal(await store.acquireLease(300), undefined, "a live lease is exclusive");
    await store.releaseLease("someone-else");
    assert.equal(await store.acquireLease(300), undefined, "a stale id releases nothing");
    assert.equal(statSync(profile.leaseFile).mode & 0o777, 0o600);
    await new Promise((r) => setTimeout(r, 350));
    const second = await store.acquireLease(10_000);
    assert.ok(second && second !== first, "granted again once expired");
    await store.releaseLease(first);
    assert.equal(await store.acquireLease(10_000), undefined, "the expired holder cannot release the new lease");
    await store.releaseLease(second);
    assert.ok(await store.acquireLease(10_000), "released by its holder");
  });

  it("a deleted profile (logout) matches no compareAndSet, not even an empty expected set", async () => {
    const { profile, store } = fresh();
    const set = { access_token: "a", refresh_token: "r" };
    assert.equal(await store.compareAndSet(undefined, set), true);
    assert.equal(await profile.locked(() => profile.remove()), true);
    assert.equal(await store.compareAndSet(set, { access_token: "renewed" }), false, "the renewal that was in flight");
    assert.equal(await store.compareAndSet(undefined, { access_token: "renewed" }), false, "an empty expected set");
    assert.ok(!existsSync(profile.file), "the profile stays deleted");
    profile.write({ client_id: "c" }); // an explicit new sign-in
    assert.equal(await store.compareAndSet(undefined, set), true);
  });

  it("the lock file holds a nonce and its own time; it is judged by that time, never by its mtime", async () => {
    const { profile, store } = fresh();
    const held = await profile.locked(() => JSON.parse(readFileSync(profile.mutexFile, "utf8")));
    assert.match(held.nonce, /^[0-9a-f-]{36}$/);
    assert.equal(held.pid, process.pid);
    assert.equal(typeof held.at, "number");
    assert.ok(!existsSync(profile.mutexFile), "released");

    // Stale by its time (a minute old), however fresh its mtime: taken over at once.
    writeFileSync(profile.mutexFile, JSON.stringify({ nonce: "dead", pid: 1, at: Date.now() - 60_000 }));
    assert.equal(await store.compareAndSet(undefined, { access_token: "a" }), true);
    assert.ok(!existsSync(profile.mutexFile));

    // Fresh by its time, however old its mtime: waited for until its holder releases it.
    writeFileSync(profile.mutexFile, JSON.stringify({ nonce: "alive", pid: 1, at: Date.now() }));
    const old = new Date(Date.now() - 60_000);
    utimesSync(profile.mutexFile, old, old);
    let releasedAt;
    setTimeout(() => { releasedAt = Date.now(); rmSync(profile.mutexFile, { force: true }); }, 200);
    assert.equal(await store.compareAndSet({ access_token: "a" }, { access_token: "b" }), true);
    assert.ok(releasedAt !== undefined, "did not wait for the holder");
  });

  it("6 processes meeting a stale lock at once: one takes it over, and the mutex still excludes (no lost increment)", async () => {
    const { profile } = fresh();
    const counter = path.join(dir, `counter-${n}`);
    writeFileSync(counter, "0");
    writeFileSync(profile.mutexFile, JSON.stringify({ nonce: "crashed", pid: 1, at: Date.now() - 60_000 }));
    const increments = 15;
    await Promise.all(Array.from({ length: 6 }, () => inProcess(`
      const { readFileSync, writeFileSync } = await import("node:fs");
      const profile = new lib.Profile(${JSON.stringify(profile.name)}, ${JSON.stringify(profile.dir)});
      await new Promise((r) => setTimeout(r, 300 - (Date.now() % 300)));
      for (let i = 0; i < ${increments}; i++) {
        await profile.locked(async () => {
          const seen = Number(readFileSync(${JSON.stringify(counter)}, "utf8"));
          await new Promise((r) => setTimeout(r, 2)); // another holder would interleave here
          writeFileSync(${JSON.stringify(counter)}, String(seen + 1));
        });
      }`)));
    assert.equal(Number(readFileSync(counter, "utf8")), 6 * increments);
    assert.ok(!existsSync(profile.mutexFile), "released");
    assert.deepEqual(readdirSync(profile.dir).filter((f) => f.startsWith(`${profile.name}.json.lock`)), [], "nothing left aside");
  });

  it("across processes: of 6 racing for the lease exactly one wins; 6 racing compare-and-sets from one value: one wins", async () => {
    const { profile, store } = fresh();
    await store.compareAndSet(undefined, { access_token: "start" });
    const race = (what) => Promise.all(Array.from({ length: 6 }, (_, i) => inProcess(`
        const store = new lib.ProfileTokenStore(new lib.Profile(${JSON.stringify(profile.name)}, ${JSON.stringify(profile.dir)}));
        await new Promise((r) => setTimeout(r, 300 - (Date.now() % 300)));
        const r = ${what === "lease" ? "await store.acquireLease(60000)" : `await store.compareAndSet({ access_token: "start" }, { access_token: "w${i}" })`};
        console.log(JSON.stringify(r ?? null));`).then(JSON.parse)));
    const leases = await race("lease");
    assert.equal(leases.filter((l) => typeof l === "string").length, 1, JSON.stringify(leases));
    const wins = await race("cas");
    assert.equal(wins.filter((w) => w === true).length, 1, JSON.stringify(wins));
    const stored = JSON.parse(readFileSync(profile.file, "utf8")).tokens.access_token;
    assert.match(stored, /^w[0-5]$/);
  });
});
