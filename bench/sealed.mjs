// What a sealed store costs (issue "Tokens at rest"), from the packed package in a scratch project:
//   1. opening a sealed set: SealedStore.get() over an in-memory store, keys already derived,
//      against MemoryTokenStore.get() (budget: at most 50 µs more, Node);
//   2. a renewal's CPU through a sealed PostgresTokenStore against a plain one, on a real
//      PostgreSQL server, the token server (the tests' mock Avito) in a process of its own, so
//      that process.cpuUsage() counts this process only (budget: at most 0.3 ms more);
//   3. the cached path: getAccessToken() with a valid token, sealed and plain (budget: the same).
// Usage: node bench/sealed.mjs <scratchDir> (after scripts/build.sh and
// scripts/install-scratch.sh <scratchDir>); writes bench/sealed-results.md.
import { spawn } from "node:child_process";
import { writeFileSync, existsSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startPostgres } from "../tests/support/postgres.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const scratch = path.resolve(process.argv[2] ?? path.join(HERE, ".scratch"));
const PKG = path.join(scratch, "node_modules/avito-auth");
const lib = await import(pathToFileURL(path.join(PKG, "node.mjs")).href);
const { PostgresTokenStore, createTable } = await import(pathToFileURL(path.join(PKG, "postgres.js")).href);
const pgDir = path.dirname(createRequire(import.meta.url).resolve("pg/package.json"));
if (!existsSync(path.join(scratch, "node_modules/pg"))) symlinkSync(pgDir, path.join(scratch, "node_modules/pg"));
const pg = (await import("pg")).default;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const KEYS = [{ id: "2026-12", key: Buffer.alloc(32, 9).toString("base64") }, { id: "2026-11", key: Buffer.alloc(32, 8).toString("base64") }];
const set = { access_token: "a".repeat(64), refresh_token: "r".repeat(64), token_type: "Bearer", expires_in: 86400, expires_at: Date.now() + 86_400_000, scopes: ["messenger:read"] };

// 1. Opening.
async function perGet(store, n) {
  for (let i = 0; i < 200; i++) await store.get();
  const t0 = process.hrtime.bigint();
  const c0 = cpuMs();
  for (let i = 0; i < n; i++) await store.get();
  return { cpu: ((cpuMs() - c0) * 1000) / n, wall: Number(process.hrtime.bigint() - t0) / 1000 / n };
}
// Two records read in turn: each read opens a record the store did not read last (a manager's
// first read decrypts; reading back the record a store wrote or opened last decrypts nothing).
const records = [];
for (const n of [1, 2]) {
  const inner = new lib.MemoryTokenStore();
  await lib.sealedStore(inner, { keys: KEYS, context: "seller-1" }).compareAndSet(undefined, { ...set, access_token: `${set.access_token}${n}` });
  records.push(await inner.get());
}
let turn = 0;
const alternating = { get: async () => records[turn++ % 2], compareAndSet: async () => false, acquireLease: async () => undefined, releaseLease: async () => {} };
const sealed = lib.sealedStore(alternating, { keys: KEYS, context: "seller-1" });
const plain = new lib.MemoryTokenStore(set);
const rounds = { plain: [], sealed: [] };
for (let r = 0; r < 7; r++) {
  rounds.plain.push(await perGet(plain, 5000));
  rounds.sealed.push(await perGet(sealed, 5000));
}
const open = { plain: median(rounds.plain.map((r) => r.cpu)), sealed: median(rounds.sealed.map((r) => r.cpu)), wall: median(rounds.sealed.map((r) => r.wall)) };

// 2. Renewals through PostgreSQL.
const RENEWALS = 200;
const child = spawn(process.execPath, [path.join(HERE, "mock-avito-process.mjs"), "30", "2"], { stdio: ["ignore", "pipe", "inherit"] });
const { url, refresh } = await new Promise((resolve) => child.stdout.once("data", (d) => resolve(JSON.parse(String(d)))));
const server = await startPostgres();
const pool = new pg.Pool({ ...server.config, max: 4 });
await createTable(pool);
const auth = new lib.AvitoAuth({ clientId: "demo-client", clientSecret: "demo-secret", host: url, retries: false });
const managers = {};
for (const [i, kind] of ["plain", "sealed"].entries()) {
  const inner = new PostgresTokenStore({ client: pool, key: `bench:${kind}` });
  const store = kind === "sealed" ? lib.sealedStore(inner, { keys: KEYS, context: `bench:${kind}` }) : inner;
  await store.compareAndSet(undefined, { access_token: "expired", refresh_token: refresh[i], token_type: "Bearer", expires_in: 30, expires_at: 0 });
  // Tokens that live 30 s are inside the 60 s skew: every getAccessToken() renews.
  managers[kind] = new lib.TokenManager({ auth, grant: "refresh_token", store });
}
const renewalCpu = { plain: [], sealed: [] };
for (let r = 0; r < 5; r++) {
  for (const kind of ["plain", "sealed"]) {
    for (let i = 0; i < 20; i++) await managers[kind].getAccessToken();
    const c0 = cpuMs();
    for (let i = 0; i < RENEWALS; i++) await managers[kind].getAccessToken();
    renewalCpu[kind].push((cpuMs() - c0) / RENEWALS);
  }
}
const renewal = { plain: median(renewalCpu.plain), sealed: median(renewalCpu.sealed) };

// 3. The cached path: a valid token, no store call.
async function perCached(tm, n) {
  for (let i = 0; i < 1000; i++) await tm.getAccessToken();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await tm.getAccessToken();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}
const cachedRounds = { plain: [], sealed: [] };
const cachedStore = lib.sealedStore(new lib.MemoryTokenStore(), { keys: KEYS, context: "seller-1" });
await cachedStore.compareAndSet(undefined, set);
const cachedManagers = {
  plain: new lib.TokenManager({ auth, grant: "refresh_token", store: new lib.MemoryTokenStore(set) }),
  sealed: new lib.TokenManager({ auth, grant: "refresh_token", store: cachedStore }),
};
for (let r = 0; r < 7; r++) for (const kind of ["plain", "sealed"]) cachedRounds[kind].push(await perCached(cachedManagers[kind], 20000));
const cached = { plain: median(cachedRounds.plain), sealed: median(cachedRounds.sealed) };

// 4. The floor: WebCrypto's own cost per operation, called from JavaScript with nothing around it.
const subtle = globalThis.crypto.subtle;
const hkdf = await subtle.importKey("raw", new Uint8Array(32), "HKDF", false, ["deriveKey"]);
const hkdfParams = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new Uint8Array(8) };
const aes = await subtle.deriveKey(hkdfParams, hkdf, { name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
const hmac = await subtle.deriveKey(hkdfParams, hkdf, { name: "HMAC", hash: "SHA-256", length: 256 }, false, ["sign"]);
const payload = new TextEncoder().encode(JSON.stringify(set));
const gcm = () => ({ name: "AES-GCM", iv: new Uint8Array(12), additionalData: new Uint8Array(120) });
const sealedPayload = await subtle.encrypt(gcm(), aes, payload);
async function cpuPer(f, n = 3000) {
  for (let i = 0; i < 300; i++) await f();
  const c0 = cpuMs();
  for (let i = 0; i < n; i++) await f();
  return ((cpuMs() - c0) * 1000) / n;
}
const floorRounds = { encrypt: [], decrypt: [], sign: [] };
for (let r = 0; r < 5; r++) {
  floorRounds.encrypt.push(await cpuPer(() => subtle.encrypt(gcm(), aes, payload)));
  floorRounds.decrypt.push(await cpuPer(() => subtle.decrypt(gcm(), aes, sealedPayload)));
  floorRounds.sign.push(await cpuPer(() => subtle.sign("HMAC", hmac, payload)));
}
const floor = Object.fromEntries(Object.entries(floorRounds).map(([k, v]) => [k, median(v)]));

await pool.end();
server.close();
child.kill();

const f = (n, d = 1) => n.toFixed(d);
const verdict = (ok) => (ok ? "✅ met" : "❌ missed");
const lines = [
  "# Sealed stores: what they cost",
  "",
  `Measured ${new Date().toISOString().slice(0, 10)} by \`node bench/sealed.mjs\` (Node ${process.version}), medians of interleaved rounds; this machine is shared and noisy (±15 %).`,
  "",
  "| what | plain | sealed | added | budget | |",
  "| --- | ---: | ---: | ---: | --- | --- |",
  `| opening a set (a record this store did not read last: one AES-GCM decrypt), keys derived, CPU (µs per call; wall ${f(open.wall)} µs) | ${f(open.plain)} | ${f(open.sealed)} | ${f(open.sealed - open.plain)} | ≤ 50 µs more | ${verdict(open.sealed - open.plain <= 50)} |`,
  `| a renewal through PostgresTokenStore, CPU of this process (ms per renewal) | ${f(renewal.plain, 3)} | ${f(renewal.sealed, 3)} | ${f(renewal.sealed - renewal.plain, 3)} | ≤ 0.3 ms more | ${verdict(renewal.sealed - renewal.plain <= 0.3)} |`,
  `| getAccessToken() with a valid token (µs per call) | ${f(cached.plain, 2)} | ${f(cached.sealed, 2)} | ${f(cached.sealed - cached.plain, 2)} | nothing more (within noise: 0.5 µs or 15 %) | ${verdict(cached.sealed - cached.plain <= Math.max(0.5, cached.plain * 0.15))} |`,
  `| the floor: one crypto.subtle call from JavaScript, CPU (µs): encrypt / decrypt / sign | | | ${f(floor.encrypt)} / ${f(floor.decrypt)} / ${f(floor.sign)} | | |`,
  `| the floor of a renewal's three calls (2 encrypt + 1 sign), CPU (ms) | | | ${f((2 * floor.encrypt + floor.sign) / 1000, 3)} | | |`,
  "",
  "A renewal through a sealed store reads its set (no decrypt when it is the record this store wrote or opened last, one otherwise), writes its mark (one encrypt: the fingerprints of the set it read are kept) and its new tokens (one encrypt, one HMAC for both fingerprints). The cached path never calls the store.",
  "",
  "The floor rows are WebCrypto's own cost in this process, called from JavaScript with nothing around it: one `crypto.subtle` call of a TokenSet-sized value costs Node 20 some 50–90 µs of CPU on this machine (Node 22 about 42 µs in a quiet run), so a sealed open cannot be under 50 µs in Node 20 whoever calls WebCrypto, and a renewal's three calls alone are about the 0.3 ms budget. What the table shows beyond the floor is the wasm side: each call crosses into JavaScript for the store, the promise, the values (a hand-written JavaScript replica of one sealed compare-and-set measured 155 µs of CPU against the wasm's 260 µs).",
  "",
];
writeFileSync(path.join(HERE, "sealed-results.md"), lines.join("\n"));
console.log(lines.join("\n"));
