// DenoKvTokenStore in real Deno: the conformance kit, and 6 Deno processes sharing one KV file
// (Deno.openKv(path)) renewing one account at once → exactly one refresh.
import { it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { NEW_KEY, OLD_KEY, assertSwept, leakedTokens, sealKeysEnv } from "../support/seal.mjs";

const DENO = path.join(ROOT, "node_modules/@deno/linux-x64-glibc/deno");
let mock, dir, kvPath;

before(async () => {
  assert.ok(existsSync(DENO), `${DENO} is missing: scripts/test.sh installs the dev dependencies (the deno npm package)`);
  copyFileSync(path.join(ROOT, "examples/deno-kv/renewer.mjs"), path.join(SCRATCH, "deno-kv-renewer.mjs"));
  copyFileSync(path.join(ROOT, "tests/fleet/deno-kv-process.mjs"), path.join(SCRATCH, "deno-kv-process.mjs"));
  writeFileSync(path.join(SCRATCH, "deno.json"), JSON.stringify({ nodeModulesDir: "manual" }));
  dir = mkdtempSync(path.join(os.tmpdir(), "avito-kv-"));
  kvPath = path.join(dir, "tokens.kv");
  mock = await startMockAvito();
});
after(async () => {
  await mock?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function deno(args, env = {}) {
  const p = spawn(DENO, ["run", "--unstable-kv", "--allow-net", "--allow-read", "--allow-write", "--allow-env", "deno-kv-process.mjs", ...args], { cwd: SCRATCH, env: { ...process.env, NO_COLOR: "1", ...env } });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => p.on("close", () => { clearTimeout(timer); resolve(out); }));
}
const line = (out, tag) => (new RegExp(`^${tag} (.*)$`, "m").exec(out) ?? [])[1] ?? `no ${tag} line: ${out}`;

it("the conformance kit passes on DenoKvTokenStore in Deno (two KV connections on one file), plain and sealed", async () => {
  const out = await deno(["kit", kvPath]);
  assert.match(line(out, "KIT"), /^ok \d+ \d+$/, out);
  const entries = JSON.parse(line(await deno(["dump", kvPath]), "DUMP"));
  const sealed = entries.filter((e) => String(e.key[1]).startsWith("sealed-") && e.key[2] === "tokens");
  assert.ok(sealed.length >= 8 && sealed.every((e) => e.value.sealed?.kid === "kit-new" && !/^[ar]t-/.test(e.value.refresh_token ?? "")), `${sealed.length} sealed entries`);
});

it("6 Deno processes sharing one KV file renew one account at once: exactly one refresh", async () => {
  mock.reset();
  mock.tokenDelayMs = 300;
  const seed = { access_token: "expired", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1 };
  assert.equal(line(await deno(["seed", kvPath, JSON.stringify(seed)]), "SEEDED"), "true");
  const startAt = Date.now() + 3000;
  const outs = await Promise.all(Array.from({ length: 6 }, () => deno(["renew", kvPath, mock.url, String(startAt), "5000"])));
  const tokens = outs.map((o) => line(o, "TOKEN"));
  assert.equal(new Set(tokens).size, 1, tokens.join("\n"));
  assert.match(tokens[0], /^at_/);
  assert.equal(mock.counts.refresh, 1, "exactly one refresh reached the token server");
  const stored = JSON.parse(line(await deno(["read", kvPath]), "SET"));
  assert.equal(stored.access_token, tokens[0]);
  assert.notEqual(stored.refresh_token, seed.refresh_token);
});

// Issue 20: the shipped example sealed (AVITO_SEAL_KEYS, the new key first) on a KV file of its
// own. After 6 Deno processes renew through it, kv.list() of the whole KV, and the bytes of the
// SQLite files Deno keeps it in, hold no token the server issued and no 8-character piece of one.
it("6 Deno processes renewing through the sealed example: one refresh; kv.list() and the KV files hold no token and no 8-character piece of one", async () => {
  mock.reset();
  mock.tokenDelayMs = 300;
  const sealedDir = mkdtempSync(path.join(os.tmpdir(), "avito-kv-sealed-"));
  const sealedKv = path.join(sealedDir, "tokens.kv");
  const env = { AVITO_SEAL_KEYS: sealKeysEnv([NEW_KEY, OLD_KEY]) };
  try {
    const seed = { access_token: "expired", refresh_token: mock.grantRefresh(), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() - 1 };
    assert.equal(line(await deno(["seed", sealedKv, JSON.stringify(seed)], env), "SEEDED"), "true");
    const startAt = Date.now() + 3000;
    const outs = await Promise.all(Array.from({ length: 6 }, () => deno(["renew", sealedKv, mock.url, String(startAt), "5000"], env)));
    const tokens = outs.map((o) => line(o, "TOKEN"));
    assert.equal(new Set(tokens).size, 1, tokens.join("\n"));
    assert.match(tokens[0], /^at_/);
    assert.equal(mock.counts.refresh, 1, "exactly one refresh reached the token server");
    assert.equal(JSON.parse(line(await deno(["read", sealedKv], env), "SET")).access_token, tokens[0], "the sealed entry opens to the renewed set");
    assertSwept(line(await deno(["dump", sealedKv]), "DUMP"), mock.state.issued, { what: "Deno KV list()", kid: NEW_KEY.id });
    const files = readdirSync(sealedDir).map((f) => readFileSync(path.join(sealedDir, f)));
    assert.ok(files.length >= 1);
    assert.deepEqual(leakedTokens(Buffer.concat(files), mock.state.issued), [], "a token in the KV's SQLite files");
    // The file sweep can see a token: a plaintext set's KV file holds its refresh token.
    const control = path.join(sealedDir, "control");
    mkdirSync(control);
    assert.equal(line(await deno(["seed", path.join(control, "plain.kv"), JSON.stringify(seed)]), "SEEDED"), "true");
    assert.deepEqual(leakedTokens(Buffer.concat(readdirSync(control).map((f) => readFileSync(path.join(control, f)))), [seed.refresh_token]), [seed.refresh_token]);
  } finally {
    rmSync(sealedDir, { recursive: true, force: true });
  }
});
