// avito-auth benchmarks: what users feel (token latency, API calls through TokenManager, loopback
// throughput), cold start, bytes loaded, per-call cost (Node, CPU profile, workerd) and memory.
// Everything is measured in one run on this machine, contenders interleaved, and reported as
// medians and ratios (absolute times drift on shared machines). These are measurements with
// budgets, not timed tests: a missed budget is reported, not failed.
// Usage: node bench/run.mjs <scratchDir> [--quick] [--only=1a,1b,1c,2,3,4a,4b,4c,4d,4e,5a,5b]   (scripts/bench.sh builds and installs first)
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync, mkdtempSync, rmSync, cpSync, readdirSync, copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  handWritten, handWrittenWithTimeout, avitoAuth, oauth4, memoryFetch, rawApi, tokenManagerApi, headerApi,
} from "./contenders.mjs";
import { ENTRIES, entryFiles, sizeOf, bundleSize, namedBuild, twiggyTop, twiggyItems, groupByCrate, shortName } from "./size.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const scratch = path.resolve(process.argv[2] ?? path.join(HERE, ".scratch"));
const quick = process.argv.includes("--quick");
// `--only=1a,3,5b` runs some sections (development; results.md is then not written).
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const want = (id) => !only || only.some((o) => o.startsWith(id) || id.startsWith(o));
const PKG = path.join(scratch, "node_modules/avito-auth");
const Q = (q, full) => (quick ? q : full);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (n, d = 0) => n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const kb = (n) => `${fmt(n / 1024, 1)} KB`;
const mib = (n) => `${n >= 0 ? "+" : ""}${(n / (1 << 20)).toFixed(1)} MiB`;
const rotate = (xs, r) => xs.map((_, i) => xs[(i + r) % xs.length]);
const started = performance.now();

// Output: sections are printed as they finish; results.md gets the summary table first.
const sections = [];
const out = (s = "") => { console.log(s); sections.push(s); };
const budgets = []; // { budget, before, after, met }
const budget = (row) => budgets.push(row);
const progress = (s) => console.error(`[bench ${((performance.now() - started) / 1000).toFixed(0)} s] ${s}`);

// --- the "before" figures (bench/results-before.md, the pre-rewrite package) ---------------------
const beforeMd = existsSync(path.join(HERE, "results-before.md")) ? readFileSync(path.join(HERE, "results-before.md"), "utf8") : "";
/** The rows (cells) of the first table under the `## <prefix>` heading of results-before.md. */
function beforeRows(prefix) {
  const sec = beforeMd.split(/^## /m).find((s) => s.startsWith(prefix));
  if (!sec) return [];
  return sec.split("\n").filter((l) => /^\|/.test(l) && !/^\|\s*-/.test(l)).map((l) => l.split("|").slice(1, -1).map((c) => c.trim().replace(/\*\*/g, "")));
}
const num = (s) => (s === undefined ? NaN : Number(String(s).replace(/[, ]|KB|ms/g, "")));
const BEFORE = (() => {
  const b = {};
  try {
    const perCall = beforeRows("1. Per-call");
    const floor = perCall.find((r) => r[0].startsWith("hand-written fetch (floor)"));
    const ours = perCall.find((r) => r[0] === "avito-auth");
    if (floor && ours) b.perCall = `${ours[2]}× (${fmt(num(ours[1]) / 1000, 1)} vs ${fmt(num(floor[1]) / 1000, 1)} µs)`;
    const cold = beforeRows("2. Cold start");
    const c = cold.find((r) => r[0] === "avito-auth"), o = cold.find((r) => r[0] === "oauth4webapi");
    if (c && o) b.cold = `${c[2]}× (${c[1]} vs ${o[1]} ms)`;
    const bytes = beforeRows("3. Bytes").filter((r) => /^(Node|workerd|browser \()/.test(r[0]));
    if (bytes.length) {
      const worst = bytes.reduce((a, r) => (num(r[4]) > num(a[4]) ? r : a));
      b.bytes = `${worst[4]} (${worst[0]}; entry + avito_auth.js + api.js + wasm)`;
    }
    const tp = beforeRows("4. Throughput").filter((r) => r[1] === "avito-auth");
    if (tp.length === 2) b.loopback = `${tp[0][3]}× (c=1), ${tp[1][3]}× (c=64) req/s`;
    const mem = beforeRows("5. Memory");
    const w = mem.find((r) => r[0].startsWith("wasm")), h = mem.find((r) => r[0].startsWith("JS heap"));
    if (w && h) b.memory = `wasm ${w[1]} → ${w.at(-1)}; heap ${h[1]} → ${h.at(-1)}`;
  } catch (e) {
    console.error(`(could not read results-before.md: ${e.message})`);
  }
  return b;
})();
const before = (k, fallback = "–") => BEFORE[k] ?? fallback;

// --- machine state ----------------------------------------------------------------------------------
const fuzzerRunning = () => { try { return execFileSync("pgrep", ["-f", "cargo fuzz|libfuzzer|scripts/fuzz.sh|/fuzz/target/"], { encoding: "utf8" }).trim().length > 0; } catch { return false; } };
const loadStart = os.loadavg()[0];
const fuzzStart = fuzzerRunning();

const lib = await import(pathToFileURL(path.join(PKG, "node.mjs")).href);
const oauth = await import("oauth4webapi");
const esbuild = await import(path.join(ROOT, "node_modules/esbuild/lib/main.js"));
const pkgVersion = JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8")).version;
const o4Version = JSON.parse(readFileSync(path.join(ROOT, "node_modules/oauth4webapi/package.json"), "utf8")).version;
const URL_TOKEN = "https://api.avito.ru/token";

// The loopback servers (separate process): /token and an API route, optionally delayed (/d20/…).
const server = want("1") ? spawn(process.execPath, [path.join(HERE, "token-server.mjs")], { stdio: ["ignore", "pipe", "inherit"] }) : undefined;
const base = server && await new Promise((resolve, reject) => { server.stdout.once("data", (d) => resolve(String(d).trim())); server.once("exit", (c) => reject(new Error(`token server exited (${c})`))); });
process.on("exit", () => server?.kill());

/** Runs `node <args>` without blocking this process's event loop; resolves with its stdout. */
function runChild(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`node ${args.slice(0, 3).join(" ")} failed (${code ?? signal}): ${stderr.slice(-1500)}`));
    });
  });
}

/** `conc` callers share `total` calls of `call`; resolves { wallMs, lat[] }. */
async function batch(call, conc, total) {
  const lat = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next++ < total) { const s = performance.now(); await call(); lat.push(performance.now() - s); }
  }));
  return { wallMs: performance.now() - t0, lat };
}

// =====================================================================================================
// 1. What users feel
// =====================================================================================================
if (want("1")) { out(`## 1. What users feel`); out(); }

// 1a. Token latency against a server that takes 20 ms -------------------------------------------------
if (want("1a")) {
  progress("1a token latency, 20 ms server");
  const d20 = `${base}/d20`;
  const contenders = {
    "raw fetch": handWritten(fetch, `${d20}/token`),
    "raw fetch + 30 s timeout": handWrittenWithTimeout(fetch, `${d20}/token`),
    "avito-auth": avitoAuth(lib, undefined, d20),
    "oauth4webapi": oauth4(oauth, fetch, `${d20}/token`),
  };
  const names = Object.keys(contenders);
  const iterations = Q(40, 250);
  for (const n of names) for (let i = 0; i < 10; i++) await contenders[n]();
  const lat = Object.fromEntries(names.map((n) => [n, []]));
  for (let i = 0; i < iterations; i++) {
    for (const n of rotate(names, i)) {
      const s = performance.now();
      await contenders[n]();
      lat[n].push(performance.now() - s);
    }
  }
  const raw = median(lat["raw fetch"]);
  out(`### 1a. client_credentials latency, concurrency 1, token server on 127.0.0.1 (separate process) answering after 20 ms`);
  out();
  out(`${fmt(iterations)} requests per contender, one at a time, contenders interleaved request by request; keep-alive.`);
  out();
  out(`| contender | median ms | p90 ms | p99 ms | × raw fetch (median) | added vs raw fetch |`);
  out(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const n of names) {
    const m = median(lat[n]);
    out(`| ${n} | ${m.toFixed(2)} | ${pct(lat[n], 90).toFixed(2)} | ${pct(lat[n], 99).toFixed(2)} | ${(m / raw).toFixed(3)} | ${n === "raw fetch" ? "" : `${m - raw >= 0 ? "+" : ""}${((m - raw) * 1000).toFixed(0)} µs`} |`);
  }
  out();
  const ours = median(lat["avito-auth"]) / raw;
  budget({ budget: "token latency, c=1, 20 ms token server: avito-auth ≤ 1.03× raw fetch (median)", before: "– (no delayed-server figure)", after: `**${ours.toFixed(3)}×** (${median(lat["avito-auth"]).toFixed(2)} vs ${raw.toFixed(2)} ms; oauth4webapi ${(median(lat.oauth4webapi) / raw).toFixed(3)}×)`, met: ours <= 1.03 });
}

// 1b. API calls through tm.fetch with a cached token, 64 concurrent callers ----------------------------
if (want("1b")) {
  progress("1b tm.fetch, 64 concurrent, 20 ms API");
  const api = `${base}/d20/core/v1/accounts/self`;
  const { call: tmCall, tm } = await tokenManagerApi(lib, `${base}/d20`);
  const raw = rawApi();
  const contenders = {
    "raw fetch + fixed Authorization: Bearer": () => raw(api),
    "tm.fetch (TokenManager, cached token)": () => tmCall(api),
    "fetch + await tm.authorizationHeader()": (() => { const h = headerApi(tm); return () => h(api); })(),
  };
  const names = Object.keys(contenders);
  const conc = 64, total = Q(1280, 6400), rounds = Q(1, 3);
  for (let w = 0; w < 2; w++) for (const n of names) await batch(contenders[n], conc, conc * 5); // warm-up: 64 connections, JIT, both ends
  const res = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) for (const n of rotate(names, r)) res[n].push(await batch(contenders[n], conc, total));
  const pick = (n) => { const s = [...res[n]].sort((a, b) => a.wallMs - b.wallMs); return s[s.length >> 1]; };
  const rawWall = pick(names[0]).wallMs;
  out(`### 1b. Avito API calls with a cached token: 64 concurrent callers, API server on 127.0.0.1 (separate process) answering after 20 ms`);
  out();
  out(`${fmt(total)} GET requests per contender and round (body read as JSON), ${rounds} interleaved round(s); median round. The TokenManager's AvitoAuth fetched its token once before timing; the server checks the Bearer token (a 401 would fail the run).`);
  out();
  out(`| contender | wall ms | req/s | × raw fetch (wall) | p50 ms | p99 ms |`);
  out(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const n of names) {
    const m = pick(n);
    out(`| ${n} | ${fmt(m.wallMs)} | ${fmt(total / (m.wallMs / 1000))} | ${(m.wallMs / rawWall).toFixed(3)} | ${pct(m.lat, 50).toFixed(2)} | ${pct(m.lat, 99).toFixed(2)} |`);
  }
  out();
  const ours = pick(names[1]).wallMs / rawWall;
  budget({ budget: "API calls via tm.fetch, cached token, 64 concurrent, 20 ms API: wall time ≤ 1.03× raw fetch + fixed Bearer", before: "1.079× (previous release of this bench)", after: `**${ours.toFixed(3)}×** (${fmt(pick(names[1]).wallMs)} vs ${fmt(rawWall)} ms for ${fmt(total)} requests)`, met: ours <= 1.03 });
}

// 1c. Loopback throughput, no server delay --------------------------------------------------------------
if (want("1c")) {
  progress("1c loopback throughput, no delay");
  const contenders = {
    "raw fetch": handWritten(fetch, `${base}/token`),
    "raw fetch + 30 s timeout": handWrittenWithTimeout(fetch, `${base}/token`),
    "avito-auth": avitoAuth(lib, undefined, base),
    "oauth4webapi": oauth4(oauth, fetch, `${base}/token`),
  };
  const names = Object.keys(contenders);
  const rounds = Q(1, 3);
  out(`### 1c. Throughput: client_credentials against the token server with no delay (keep-alive)`);
  out();
  out(`${rounds} interleaved round(s); median of rounds. Latency percentiles over all requests of the median round. Mostly client and server CPU: both share this machine's 2 cores.`);
  out();
  out(`| concurrency | contender | req/s | × raw fetch | p50 ms | p99 ms |`);
  out(`| ---: | --- | ---: | ---: | ---: | ---: |`);
  const ratios = {};
  for (const conc of [1, 64]) {
    const total = conc === 1 ? Q(300, 1000) : Q(2000, 5000);
    for (const n of names) await batch(contenders[n], conc, conc * 40);
    const results = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) for (const n of rotate(names, r)) { const b = await batch(contenders[n], conc, total); results[n].push({ rps: total / (b.wallMs / 1000), lat: b.lat }); }
    const pick = (n) => { const s = [...results[n]].sort((a, b) => a.rps - b.rps); return s[s.length >> 1]; };
    const rawRps = pick("raw fetch").rps;
    for (const n of names) {
      const m = pick(n);
      out(`| ${conc} | ${n} | ${fmt(m.rps)} | ${(m.rps / rawRps).toFixed(3)} | ${pct(m.lat, 50).toFixed(2)} | ${pct(m.lat, 99).toFixed(2)} |`);
    }
    ratios[conc] = pick("avito-auth").rps / rawRps;
  }
  out();
  budget({ budget: "(report only) loopback throughput, no server delay: avito-auth req/s ÷ raw fetch's", before: before("loopback"), after: `${ratios[1].toFixed(3)}× (c=1), ${ratios[64].toFixed(3)}× (c=64)`, met: undefined });
}
server?.kill();

// =====================================================================================================
// 2. Cold start
// =====================================================================================================
if (want("2")) {
  progress("2 cold start");
  const launches = Q(5, 15);
  const kinds = ["hand-written fetch (floor)", "avito-auth", "oauth4webapi", "wasm-only"];
  const arg = { "hand-written fetch (floor)": "floor", "avito-auth": "avito-auth", "oauth4webapi": "oauth4webapi", "wasm-only": "wasm-only" };
  const samples = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let r = 0; r < launches; r++) {
    for (const k of rotate(kinds, r)) {
      const res = execFileSync(process.execPath, [path.join(HERE, "cold.mjs"), arg[k], scratch], { cwd: ROOT, encoding: "utf8" });
      samples[k].push(JSON.parse(res.trim().split("\n").at(-1)).ms);
    }
  }
  const o4 = median(samples.oauth4webapi);
  out(`## 2. Cold start (fresh Node process: first import → first token, in-memory fetch)`);
  out();
  out(`${launches} launches each, interleaved; median ms.`);
  out();
  out(`| contender | ms | × oauth4webapi |`);
  out(`| --- | ---: | ---: |`);
  for (const k of kinds.slice(0, 3)) out(`| ${k} | ${median(samples[k]).toFixed(2)} | ${(median(samples[k]) / o4).toFixed(2)} |`);
  out(`| avito-auth: compile + instantiate the wasm alone | ${median(samples["wasm-only"]).toFixed(2)} | |`);
  out();
  const ours = median(samples["avito-auth"]) / o4;
  budget({ budget: "cold start (import → first token) ≤ 1.3× oauth4webapi", before: before("cold"), after: `**${ours.toFixed(2)}×** (${median(samples["avito-auth"]).toFixed(2)} vs ${o4.toFixed(2)} ms)`, met: ours <= 1.3 });
}

// =====================================================================================================
// 3. Bytes loaded, and where the wasm's bytes go
// =====================================================================================================
let named; // the build with names, reused by the CPU profile
if (want("3")) {
  progress("3 bytes, twiggy");
  const GUARD = 60 * 1024;
  const MUST = ["api.js", "exception.js", "avito_auth.js", "avito_auth_bg.wasm"];
  const snippet = readdirSync(path.join(PKG, "snippets")).map((d) => `snippets/${d}/js/exception.js`).filter((f) => existsSync(path.join(PKG, f)));
  out(`## 3. Bytes a runtime loads per entry (raw / gzip -9; KB = 1,024 bytes)`);
  out();
  out(`Every file the entry loads: its JS module graph (followed by esbuild from the entry) and the .wasm. Each file gzipped on its own, as a server or a package cache would.`);
  out();
  out(`| entry | files | JS | .wasm | total | total gzip |`);
  out(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  const lists = {};
  let worst = { gzip: 0 };
  for (const [name, entry] of Object.entries(ENTRIES)) {
    const files = await entryFiles(esbuild, PKG, entry);
    lists[name] = files;
    if (entry.endsWith(".mjs") || entry.endsWith(".js")) {
      const missing = [...MUST, ...snippet].filter((f) => !files.includes(f));
      if (missing.length) console.error(`WARNING: ${entry} does not load ${missing.join(", ")}`);
    }
    const s = sizeOf(PKG, files), w = sizeOf(PKG, ["avito_auth_bg.wasm"]);
    if (s.gzip > worst.gzip) worst = { name, ...s };
    out(`| ${name} | ${files.length} | ${kb(s.jsRaw)} (${kb(s.jsGz)} gz) | ${kb(w.raw)} (${kb(w.gzip)} gz) | ${kb(s.raw)} | **${kb(s.gzip)}** |`);
  }
  const wasm = sizeOf(PKG, ["avito_auth_bg.wasm"]);
  const ourMin = await bundleSize(esbuild, `export * from "avito-auth";`, scratch);
  const o4min = await bundleSize(esbuild, `export { clientCredentialsGrantRequest, processClientCredentialsResponse, ClientSecretPost, customFetch } from "oauth4webapi";`, ROOT);
  const o4full = await bundleSize(esbuild, `export * from "oauth4webapi";`, ROOT);
  out(`| browser entry bundled + minified by esbuild | | ${kb(ourMin.raw)} (${kb(ourMin.gzip)} gz) | ${kb(wasm.raw)} (${kb(wasm.gzip)} gz) | ${kb(ourMin.raw + wasm.raw)} | **${kb(ourMin.gzip + wasm.gzip)}** |`);
  out(`| oauth4webapi, the 4 functions used, bundled + minified | | ${kb(o4min.raw)} (${kb(o4min.gzip)} gz) | – | ${kb(o4min.raw)} | **${kb(o4min.gzip)}** |`);
  out(`| oauth4webapi, whole module, bundled + minified | | ${kb(o4full.raw)} (${kb(o4full.gzip)} gz) | – | ${kb(o4full.raw)} | **${kb(o4full.gzip)}** |`);
  out();
  out(`Files per entry:`);
  out();
  for (const [name, files] of Object.entries(lists)) out(`- ${name}: ${files.map((f) => `\`${f}\``).join(", ")}`);
  out();
  budget({ budget: "bytes loaded (wasm + JS, gzip -9), worst entry ≤ 60 KB", before: before("bytes"), after: `**${kb(worst.gzip)}** (${worst.name}: wasm ${kb(wasm.gzip)} + JS ${kb(worst.jsGz)}; ${worst.gzip <= GUARD ? `${kb(GUARD - worst.gzip)} under` : `${kb(worst.gzip - GUARD)} over`})`, met: worst.gzip <= GUARD });

  out(`### 3b. Where the wasm's bytes go (twiggy)`);
  out();
  named = namedBuild(ROOT);
  if (named.error) {
    out(`(not measured: ${named.error})`);
    out();
  } else {
    const items = twiggyItems(named.wasm);
    const g = groupByCrate(items);
    out(`A build with names: \`wasm-bindgen --keep-debug --target web\` over cargo's \`target/wasm32-unknown-unknown/release/avito_auth.wasm\`, then \`wasm-opt -Oz -g\` with the package's feature flags: ${kb(g.total)} without its names subsections (${kb(g.names)} of names; the shipped .wasm is ${kb(wasm.raw)}: it also drops the producers and target_features sections).`);
    out();
    out("`twiggy top -n 25`:");
    out();
    out("```");
    for (const l of twiggyTop(named.wasm, 25).trimEnd().split("\n")) out(l.replace(/\[[0-9a-f]{16}\]/g, ""));
    out("```");
    out();
    out(`Shallow bytes grouped by crate (names subsections excluded; a symbol belongs to the crate of its path, \`<A as B>\` to A's unless A is a primitive or generic, drop glue to the dropped type's):`);
    out();
    out(`| group | bytes | % | items | largest item |`);
    out(`| --- | ---: | ---: | ---: | --- |`);
    for (const e of g.groups) out(`| ${e.group} | ${fmt(e.bytes)} | ${(100 * e.bytes / g.total).toFixed(1)} | ${fmt(e.items)} | ${shortName(e.largest.name)} (${fmt(e.largest.shallow_size)}) |`);
    out(`| **total** | **${fmt(g.total)}** | 100.0 | ${fmt(g.groups.reduce((a, e) => a + e.items, 0))} | |`);
    out();
  }
}

// =====================================================================================================
// 4. Per-call cost
// =====================================================================================================
if (want("4")) { out(`## 4. Per-call cost (client_credentials, in-memory fetch returning a canned Response)`); out(); }
if (want("4a")) {
  progress("4a per-call cost, Node");
  const f = memoryFetch();
  const contenders = {
    "hand-written fetch (floor)": handWritten(f, URL_TOKEN),
    "hand-written fetch + 30 s timeout": handWrittenWithTimeout(f, URL_TOKEN),
    "avito-auth": avitoAuth(lib, f, "https://api.avito.ru"),
    "oauth4webapi": oauth4(oauth, f, URL_TOKEN),
  };
  const names = Object.keys(contenders);
  const perRound = Q(500, 4000), rounds = Q(3, 9);
  for (const n of names) for (let i = 0; i < perRound; i++) await contenders[n]();
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of rotate(names, r)) {
      const call = contenders[n];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < perRound; i++) await call();
      samples[n].push(Number(process.hrtime.bigint() - t0) / perRound);
    }
  }
  const floor = median(samples[names[0]]);
  const withTimeout = median(samples["hand-written fetch + 30 s timeout"]);
  const o4 = median(samples.oauth4webapi);
  out(`### 4a. Node ${process.version}`);
  out();
  out(`${rounds} interleaved rounds × ${fmt(perRound)} sequential calls; median ns/call.`);
  out();
  out(`| contender | ns/call | × floor | × floor + timeout | × oauth4webapi |`);
  out(`| --- | ---: | ---: | ---: | ---: |`);
  for (const n of names) { const m = median(samples[n]); out(`| ${n} | ${fmt(m)} | ${(m / floor).toFixed(2)} | ${(m / withTimeout).toFixed(2)} | ${(m / o4).toFixed(2)} |`); }
  out();
  const ours = median(samples["avito-auth"]);
  budget({ budget: "per-call cost in Node (in-memory fetch) ≤ 5× the hand-written floor", before: before("perCall"), after: `**${(ours / floor).toFixed(2)}×** (${fmt(ours / 1000, 1)} vs ${fmt(floor / 1000, 1)} µs; ${(ours / withTimeout).toFixed(2)}× floor + timeout, ${(ours / o4).toFixed(2)}× oauth4webapi)`, met: ours / floor <= 5 });
}

// 4d. tm.fetch per call in Node (cached token, in-memory API: the global fetch replaced) -----------------
if (want("4d")) {
  progress("4d tm.fetch per call, Node");
  const API = "https://api.avito.ru/core/v1/accounts/self";
  const body = JSON.stringify({ id: 1 });
  const realFetch = globalThis.fetch;
  const memoryApi = async () => new Response(body, { status: 200, headers: { "content-type": "application/json" } });
  const auth = new lib.AvitoAuth({ clientId: "bench-client", clientSecret: "bench-secret", host: "https://api.avito.ru", fetch: memoryFetch() });
  const tm = new lib.TokenManager({ auth });
  const token = await tm.getAccessToken();
  const bearer = { authorization: `Bearer ${token}` };
  globalThis.fetch = memoryApi;
  try {
    const contenders = {
      "fetch with a fixed Bearer (floor)": async () => { const r = await fetch(API, { headers: bearer }); if (!r.ok) throw new Error(); return r.json(); },
      "tm.fetch, cached token": async () => { const r = await tm.fetch(API); if (!r.ok) throw new Error(); return r.json(); },
    };
    const names = Object.keys(contenders);
    const perRound = Q(500, 4000), rounds = Q(3, 9);
    for (const n of names) for (let i = 0; i < perRound; i++) await contenders[n]();
    const samples = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < rounds; r++) for (const n of rotate(names, r)) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < perRound; i++) await contenders[n]();
      samples[n].push(Number(process.hrtime.bigint() - t0) / perRound);
    }
    const floor = median(samples[names[0]]), ours = median(samples[names[1]]);
    out(`### 4d. tm.fetch per call, Node ${process.version} (cached token; the global fetch replaced by an in-memory one)`);
    out();
    out(`| contender | ns/call | × floor |`);
    out(`| --- | ---: | ---: |`);
    for (const n of names) out(`| ${n} | ${fmt(median(samples[n]))} | ${(median(samples[n]) / floor).toFixed(2)} |`);
    out();
    budget({ budget: "(report only) tm.fetch CPU per call in Node, cached token, in-memory API", before: "– (not measured)", after: `${fmt(ours / 1000, 1)} µs (${fmt((ours - floor) / 1000, 1)} µs over fetch with a fixed Bearer)`, met: undefined });
  } finally {
    globalThis.fetch = realFetch;
  }
}

// 4e. Events (README "Watching your sellers"): the cost with nobody listening, with a
// diagnostics_channel subscriber, and with an onEvent listener ------------------------------------------
if (want("4e")) {
  progress("4e events, Node");
  const dc = await import("node:diagnostics_channel");
  const API = "https://api.avito.ru/core/v1/accounts/self";
  const body = JSON.stringify({ id: 1 });
  const realFetch = globalThis.fetch;
  const memoryApi = async () => new Response(body, { status: 200, headers: { "content-type": "application/json" } });
  let received = 0;
  const onEvent = () => { received++; };
  const manager = (extra) => new lib.TokenManager({ auth: new lib.AvitoAuth({ clientId: "bench-client", clientSecret: "bench-secret", host: "https://api.avito.ru", fetch: memoryFetch() }), ...extra });
  // How each contender listens: nobody, a channel subscriber (and a TracingChannel one), onEvent.
  const listeners = { "nobody listening": {}, "a diagnostics_channel subscriber": { channel: true }, "onEvent": { onEvent } };
  const subscriber = () => { received++; };
  const tracer = { start() {}, end() {}, asyncStart() {}, asyncEnd() { received++; }, error() {} };
  const listen = (how, on) => {
    if (!how.channel) return;
    if (on) { dc.subscribe("avito-auth:event", subscriber); dc.tracingChannel("avito-auth:renewal").subscribe(tracer); }
    else { dc.unsubscribe("avito-auth:event", subscriber); dc.tracingChannel("avito-auth:renewal").unsubscribe(tracer); }
  };
  const rows = [];
  globalThis.fetch = memoryApi;
  try {
    for (const [what, call] of [
      ["tm.getAccessToken(), cached token", (tm) => tm.getAccessToken()],
      ["tm.fetch, cached token", async (tm) => (await tm.fetch(API)).json()],
      ["a renewal (invalidate(), then getAccessToken(); in-memory token endpoint)", (tm) => (tm.invalidate(), tm.getAccessToken())],
    ]) {
      const contenders = Object.fromEntries(Object.entries(listeners).map(([n, how]) => [n, { how, tm: manager(how.onEvent ? { onEvent } : {}) }]));
      const names = Object.keys(contenders);
      const perRound = Q(500, 4000), rounds = Q(3, 9);
      for (const n of names) { listen(contenders[n].how, true); for (let i = 0; i < perRound; i++) await call(contenders[n].tm); listen(contenders[n].how, false); }
      const samples = Object.fromEntries(names.map((n) => [n, []]));
      for (let r = 0; r < rounds; r++) for (const n of rotate(names, r)) {
        const { how, tm } = contenders[n];
        listen(how, true);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < perRound; i++) await call(tm);
        samples[n].push(Number(process.hrtime.bigint() - t0) / perRound);
        listen(how, false);
      }
      const none = median(samples[names[0]]);
      for (const n of names) rows.push([what, n, median(samples[n]), median(samples[n]) / none]);
    }
  } finally {
    globalThis.fetch = realFetch;
  }
  if (received === 0) throw new Error("4e: no listener received an event");
  out(`### 4e. Events, Node ${process.version}: with nobody listening, a diagnostics_channel subscriber, an onEvent listener`);
  out();
  out("Interleaved rounds, median ns/call. A token served from memory reaches `onEvent` only (the hot path asks nothing of JavaScript otherwise); a renewal's events reach both, and the renewal's TracingChannel.");
  out();
  out(`| call | listening | ns/call | × nobody listening |`);
  out(`| --- | --- | ---: | ---: |`);
  for (const [what, n, m, x] of rows) out(`| ${what} | ${n} | ${fmt(m)} | ${x.toFixed(3)} |`);
  out();
  const hot = rows.filter(([w, n]) => !w.startsWith("a renewal") && n === "a diagnostics_channel subscriber").map(([, , , x]) => x);
  budget({ budget: "(report only) events: tm.getAccessToken / tm.fetch with a channel subscriber vs nobody listening", before: "– (no events)", after: hot.map((x) => `${x.toFixed(3)}×`).join(", "), met: undefined });
}

// 4b. Where the time goes: CPU profiles ------------------------------------------------------------------
if (want("4b")) {
  progress("4b CPU profile");
  const calls = Q(20_000, 200_000);
  const profDir = mkdtempSync(path.join(os.tmpdir(), "avito-bench-prof-"));
  // The package again, with the named wasm and wasm-bindgen's unminified glue from the same build
  // (same code; names for the profile). Falls back to the shipped files if that does not load.
  if (!named) named = namedBuild(ROOT);
  let profPkg = PKG, namedNote = "the shipped package (no wasm names)";
  if (named && !named.error) {
    const dir = path.join(profDir, "pkg");
    cpSync(PKG, dir, { recursive: true });
    const snippetsOk = readdirSync(path.join(named.dir, "snippets")).every((d) => existsSync(path.join(dir, "snippets", d)));
    if (snippetsOk) {
      copyFileSync(named.wasm, path.join(dir, "avito_auth_bg.wasm"));
      copyFileSync(named.glue, path.join(dir, "avito_auth.js"));
      try {
        execFileSync(process.execPath, [path.join(HERE, "profile.mjs"), dir, "avito-auth", "10"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        profPkg = dir; namedNote = "the package with 3b's named wasm build and that build's unminified wasm-bindgen glue: the same code, with names";
      } catch { /* keep the shipped package */ }
    }
  }
  const profile = (contender, n, host) => {
    const d = path.join(profDir, `${contender}-${host ? "loopback" : "memory"}`);
    const res = execFileSync(process.execPath, ["--cpu-prof", "--cpu-prof-interval", "250", "--cpu-prof-dir", d, path.join(HERE, "profile.mjs"), profPkg, contender, String(n), ...(host ? [host] : [])], { encoding: "utf8" });
    const file = readdirSync(d).find((x) => x.endsWith(".cpuprofile"));
    return { run: JSON.parse(res.trim().split("\n").at(-1)), prof: JSON.parse(readFileSync(path.join(d, file), "utf8")) };
  };
  const categorise = (cf) => {
    const { functionName: fn, url } = cf;
    if (fn === "(garbage collector)") return "GC";
    if (fn === "(idle)") return "(idle: waiting for the socket)";
    if (fn === "(program)" || fn === "(root)") return "(program: V8/native, not attributed)";
    if (/^(js-to-wasm|wasm-to-js)[:-]/.test(fn)) return "JS↔wasm transitions (V8 wrappers)";
    if (url.startsWith("wasm://") || /^\$?func\d+|^wasm-function/.test(fn)) return "wasm functions";
    if (url.endsWith("/avito_auth.js")) return "wasm-bindgen glue (avito_auth.js)";
    if (url.includes("/avito-auth") || url.includes(profPkg)) return "avito-auth JS (entries, exception.js)";
    if (/^node:internal\/(abort_controller|event_target|worker\/js_transferable)/.test(url)) return "Node AbortController / AbortSignal / EventTarget";
    if (/^node:internal\/timers|^node:timers/.test(url)) return "Node timers (setTimeout / clearTimeout)";
    if (/^node:internal\/(deps\/undici|webstreams|webidl|url|blob|encoding|streams)/.test(url) || url.includes("undici")) return "Node fetch internals (Request/Response/Headers/body/streams)";
    if (url.startsWith("node:")) return "other Node internals (microtasks, process ticks, …)";
    if (url.includes("/bench/")) return "benchmark harness (the in-memory fetch, loop)";
    if (!url) return "V8 builtins / native";
    return "other JS";
  };
  const summarise = ({ prof }) => {
    const total = prof.timeDeltas.reduce((a, b) => a + b, 0);
    const byNode = new Map(prof.nodes.map((n) => [n.id, n]));
    const selfUs = new Map();
    for (let i = 0; i < prof.samples.length; i++) selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + (prof.timeDeltas[i + 1] ?? 0));
    const fns = new Map(), cats = new Map();
    for (const [id, us] of selfUs) {
      const cf = byNode.get(id).callFrame;
      const key = `${cf.functionName || "(anonymous)"}\u0000${cf.url}\u0000${cf.lineNumber}`;
      const e = fns.get(key) ?? { name: cf.functionName || "(anonymous)", url: cf.url, line: cf.lineNumber, us: 0, cat: categorise(cf) };
      e.us += us; fns.set(key, e);
      cats.set(e.cat, (cats.get(e.cat) ?? 0) + us);
    }
    return { total, fns: [...fns.values()].sort((a, b) => b.us - a.us), cats };
  };
  const where = (f) => (f.url.startsWith("wasm://") ? "wasm" : f.url ? `${f.url.replace(/^file:\/\/.*\/(node_modules\/|bench\/)/, "$1").replace(/^file:\/\/.*\/(avito_auth\.js)$/, "$1")}:${f.line + 1}` : "");
  /** Category table (avito-auth vs floor, µs per call) and avito-auth's top self-time functions. */
  const report = (ours, floor, top) => {
    const so = summarise(ours), sf = summarise(floor);
    const perCall = (us, run) => us / (run.run.calls + run.run.warmup);
    out(`| category | avito-auth µs/call | % | floor µs/call | % | difference µs/call |`);
    out(`| --- | ---: | ---: | ---: | ---: | ---: |`);
    const catNames = [...new Set([...so.cats.keys(), ...sf.cats.keys()])].sort((a, b) => (so.cats.get(b) ?? 0) - (so.cats.get(a) ?? 0));
    for (const c of catNames) {
      const a = perCall(so.cats.get(c) ?? 0, ours), b = perCall(sf.cats.get(c) ?? 0, floor);
      out(`| ${c} | ${a.toFixed(2)} | ${(100 * (so.cats.get(c) ?? 0) / so.total).toFixed(1)} | ${b.toFixed(2)} | ${(100 * (sf.cats.get(c) ?? 0) / sf.total).toFixed(1)} | ${a - b >= 0 ? "+" : ""}${(a - b).toFixed(2)} |`);
    }
    const ta = perCall(so.total, ours), tb = perCall(sf.total, floor);
    out(`| **total** | **${ta.toFixed(2)}** | 100.0 | **${tb.toFixed(2)}** | 100.0 | **+${(ta - tb).toFixed(2)}** |`);
    out();
    out(`Top ${top} self-time functions, avito-auth:`);
    out();
    out(`| # | function | where | category | self % | µs/call |`);
    out(`| ---: | --- | --- | --- | ---: | ---: |`);
    so.fns.slice(0, top).forEach((f, i) => out(`| ${i + 1} | ${shortName(f.name, 80)} | ${where(f)} | ${f.cat} | ${(100 * f.us / so.total).toFixed(1)} | ${perCall(f.us, ours).toFixed(2)} |`));
    out();
  };
  out(`### 4b. Where the time goes: CPU profiles (\`node --cpu-prof\`)`);
  out();
  out(`\`bench/profile.mjs\` makes sequential client_credentials calls (after 5,000 warm-up calls) under \`node --cpu-prof --cpu-prof-interval 250\`, once with avito-auth (${namedNote}) and once with the floor. Self time by category, per call: the whole profile (start-up and warm-up included) divided by the calls. Categories: by script URL (wasm, \`avito_auth.js\`, \`node:internal/deps/undici\` and web streams…), V8's own entries for GC and JS↔wasm wrappers.`);
  out();
  {
    const ours = profile("avito-auth", calls), floor = profile("floor", calls);
    out(`**In-memory fetch, ${fmt(calls)} calls** (under the profiler avito-auth ran at ${fmt(ours.run.ms * 1000 / calls, 1)} µs/call, the floor at ${fmt(floor.run.ms * 1000 / calls, 1)}):`);
    out();
    report(ours, floor, 25);
  }
  {
    const srv = spawn(process.execPath, [path.join(HERE, "token-server.mjs")], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const host = await new Promise((resolve) => srv.stdout.once("data", (d) => resolve(String(d).trim())));
      const n = Q(2000, 5000);
      // A synchronous child is fine here: the server is another process.
      const ours = profile("avito-auth", n, host), floor = profile("floor", n, host);
      out(`**Over loopback (token server on 127.0.0.1, no delay), ${fmt(n)} calls** — where avito-auth's CPU goes when the response comes from a socket (avito-auth ${fmt(ours.run.ms * 1000 / n, 1)} µs/call under the profiler, the floor ${fmt(floor.run.ms * 1000 / n, 1)}; client process only):`);
      out();
      report(ours, floor, 15);
    } finally {
      srv.kill();
    }
  }
  rmSync(profDir, { recursive: true, force: true });
}
if (named && !named.error) rmSync(named.dir, { recursive: true, force: true });

// 4c. Per-call cost inside workerd ---------------------------------------------------------------------
if (want("4c")) {
  progress("4c per-call cost, workerd");
  out(`### 4c. Inside workerd (Miniflare), the Worker bundled by wrangler`);
  out();
  let mf;
  try {
    const { bundleWithWrangler, startWorker } = await import(path.join(ROOT, "tests/support/worker.mjs"));
    copyFileSync(path.join(HERE, "workerd-percall.js"), path.join(scratch, "bench-percall.mjs"));
    const script = await bundleWithWrangler(path.join(scratch, "bench-percall.mjs"), path.join(scratch, ".workerd-dist"));
    mf = await startWorker(script);
    const n = Q(2000, 10_000), rounds = Q(3, 7);
    const impls = ["floor", "avito-auth", "api-floor", "tm.fetch"];
    const hit = async (impl, k) => {
      const t0 = performance.now();
      const r = await mf.dispatchFetch(`http://bench.local/?impl=${impl}&n=${k}`);
      const body = await r.json();
      if (r.status !== 200) throw new Error(`worker answered ${r.status}`);
      return { outside: performance.now() - t0, inside: body.ms };
    };
    for (const i of impls) { await hit(i, n); await hit(i, 0); }
    const s = Object.fromEntries(impls.map((i) => [i, { full: [], empty: [], inside: [] }]));
    for (let r = 0; r < rounds; r++) {
      for (const i of rotate(impls, r)) {
        const e = await hit(i, 0), f = await hit(i, n);
        s[i].empty.push(e.outside); s[i].full.push(f.outside); s[i].inside.push(f.inside);
      }
    }
    const ns = (i) => ((median(s[i].full) - median(s[i].empty)) * 1e6) / n;
    const inside = (i) => (median(s[i].inside) * 1e6) / n;
    const floorNs = ns("floor");
    out(`A Worker (\`bench/workerd-percall.js\`) loops ${fmt(n)} sequential calls with an in-memory fetch per request; ${rounds} interleaved rounds. ns/call from outside: (median time of an n=${fmt(n)} request − median of an n=0 request) ÷ n. The Worker's own clock is shown too (workerd may hold it still while code runs).`);
    out();
    out(`| contender | ns/call | × floor | Worker's own clock, ns/call |`);
    out(`| --- | ---: | ---: | ---: |`);
    const label = { floor: "hand-written fetch (floor)", "api-floor": "API call, fixed Bearer (tm.fetch's floor)", "tm.fetch": "tm.fetch, cached token" };
    for (const i of impls) {
      const base = i === "api-floor" || i === "tm.fetch" ? ns("api-floor") : floorNs;
      out(`| ${label[i] ?? i} | ${fmt(ns(i))} | ${(ns(i) / base).toFixed(2)} | ${fmt(inside(i))} |`);
    }
    out();
    budget({ budget: "(report only) per-call cost inside workerd (Miniflare)", before: "– (not measured)", after: `${(ns("avito-auth") / floorNs).toFixed(2)}× the floor (${fmt(ns("avito-auth") / 1000, 1)} vs ${fmt(floorNs / 1000, 1)} µs)`, met: undefined });
    budget({ budget: "(report only) tm.fetch CPU per call inside workerd, cached token, in-memory API", before: "– (not measured)", after: `${fmt(ns("tm.fetch") / 1000, 1)} µs (${fmt((ns("tm.fetch") - ns("api-floor")) / 1000, 1)} µs over the same call with a fixed Bearer)`, met: undefined });
  } catch (e) {
    out(`(not measured: ${String(e.message).slice(0, 400)})`);
    out();
  } finally {
    await mf?.dispose();
  }
}

// =====================================================================================================
// 5. Memory
// =====================================================================================================
if (want("5")) { out(`## 5. Memory`); out(); }
if (want("5a")) {
  progress("5a memory over many calls");
  const calls = Q(100_000, 1_000_000);
  const res = JSON.parse(execFileSync(process.execPath, ["--expose-gc", path.join(HERE, "memory.mjs"), scratch, String(calls)], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 20 }).trim());
  out(`### 5a. Over ${fmt(calls)} calls (in-memory fetch, after GC)`);
  out();
  out(`| | before | ¼ | ½ | ¾ | after |`);
  out(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  out(`| wasm linear memory | ${kb(res.before.wasm)} | ${res.mid.map((m) => kb(m.wasm)).join(" | ")} | ${kb(res.after.wasm)} |`);
  out(`| JS heap used | ${kb(res.before.heap)} | ${res.mid.map((m) => kb(m.heap)).join(" | ")} | ${kb(res.after.heap)} |`);
  out();
  const wasmGrowth = res.after.wasm - res.before.wasm, heapGrowth = res.after.heap - res.before.heap;
  const flat = wasmGrowth === 0 && heapGrowth < 1 << 20;
  budget({ budget: `memory flat over ${fmt(calls)} calls (wasm memory does not grow, JS heap grows < 1 MiB)`, before: before("memory"), after: `wasm ${kb(res.before.wasm)} → ${kb(res.after.wasm)}; heap ${kb(res.before.heap)} → ${kb(res.after.heap)}`, met: flat });
}

if (want("5b")) {
  progress("5b peak memory per response");
  const { startHostileUpstream, bomb } = await import(path.join(ROOT, "tests/support/hostile-upstream.mjs"));
  const upstream = await startHostileUpstream();
  await bomb("gzip"); // built once, before any clock runs
  const esm = pathToFileURL(path.join(PKG, "node.mjs")).href;
  const cases = [
    ["avito-auth", "chunked-8mib", "an 8 MiB chunked body (no Content-Length), a valid token object"],
    ["avito-auth", "gzip-bomb", `a gzip bomb: ${kb((await bomb("gzip")).length)} on the wire, 256 MiB inflated`],
    ["raw-capped", "chunked-8mib", "reference: raw fetch reading the stream, cancelled past 1 MiB (8 MiB chunked)"],
    ["raw-capped", "gzip-bomb", "reference: raw fetch reading the stream, cancelled past 1 MiB (gzip bomb)"],
    ["raw", "chunked-8mib", "reference: raw fetch + res.text() of the 8 MiB chunked body"],
  ];
  const reps = Q(1, 3);
  const results = cases.map(() => []);
  try {
    for (let r = 0; r < reps; r++) {
      for (let c = 0; c < cases.length; c++) {
        const [contender, scenario] = cases[c];
        const ep = upstream.endpoint("ok");
        // Asynchronously: the server lives in this process and must keep answering.
        const stdout = await runChild(["--expose-gc", path.join(HERE, "peak-memory.mjs"), esm, contender, ep.host, `${upstream.url}/__set/${ep.id}/${scenario}`, `${upstream.url}/__set/${ep.id}/ok`], 120_000);
        results[c].push(JSON.parse(stdout.trim().split("\n").at(-1)));
      }
    }
  } finally {
    await upstream.close();
  }
  out(`### 5b. Peak memory while one response is handled`);
  out();
  out(`A fresh Node process per measurement (\`bench/peak-memory.mjs\`): two warm-up calls against a well-behaved endpoint, GC, idle baseline, then one call while RSS and heapUsed + arrayBuffers + external are sampled every 2 ms (plus the kernel's RSS high-water mark). The server (tests/support/hostile-upstream.mjs) runs in the harness process. ${reps} run(s) per case; medians.`);
  out();
  out(`| contender | response | outcome | ms | idle RSS | peak RSS above idle | peak heap+arrayBuffers+external above idle |`);
  out(`| --- | --- | --- | ---: | ---: | ---: | ---: |`);
  let worst = 0, worstCase = "";
  for (let c = 0; c < cases.length; c++) {
    const [contender, , label] = cases[c];
    const rs = results[c];
    const dRss = median(rs.map((x) => x.peak.rss - x.base.rss)), dHeap = median(rs.map((x) => x.peak.heap - x.base.heap));
    const o = rs.at(-1).outcome;
    const outcome = o.ok ? `${o.bytes !== undefined ? `${kb(o.bytes)} read` : "ok"}` : `${o.name ?? "error"}${o.kind ? ` (${o.kind})` : ""}`;
    out(`| ${{ raw: "raw fetch + text()", "raw-capped": "raw fetch, capped" }[contender] ?? contender} | ${label} | ${outcome} | ${fmt(median(rs.map((x) => x.outcome.ms)))} | ${(median(rs.map((x) => x.base.rss)) / (1 << 20)).toFixed(1)} MiB | ${mib(dRss)} | ${mib(dHeap)} |`);
    if (contender === "avito-auth") {
      const m = Math.max(dRss, dHeap);
      if (m >= worst) { worst = m; worstCase = `${cases[c][1]}`; }
    }
  }
  out();
  const summary = cases.map(([c, s], i) => [c, s, i]).filter(([c]) => c === "avito-auth").map(([, s, i]) => `${s}: ${mib(median(results[i].map((x) => x.peak.rss - x.base.rss)))} RSS, ${mib(median(results[i].map((x) => x.peak.heap - x.base.heap)))} heap`).join("; ");
  budget({ budget: "peak memory handling one response (8 MiB chunked, gzip bomb) ≤ 8 MiB above idle (RSS and heap+arrayBuffers+external)", before: "– (not measured)", after: `worst ${mib(worst)} (${worstCase}) — ${summary}`, met: worst <= 8 * (1 << 20) });
}

// =====================================================================================================
// Summary first, then the sections
// =====================================================================================================
const fuzzEnd = fuzzerRunning();
const header = [
  `# avito-auth benchmarks`,
  ``,
  `${new Date().toISOString()} · Node ${process.version} · ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length} · avito-auth ${pkgVersion} · oauth4webapi ${o4Version} · load average ${loadStart.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end${fuzzStart || fuzzEnd ? " · **a fuzzer was running**" : " · no fuzzer running"} · ${((performance.now() - started) / 1000).toFixed(0)} s${quick ? " · QUICK run" : ""}`,
  ``,
  `"Before" is the pre-rewrite package (JS transport, commit 5225aa9): [results-before.md](results-before.md). "After" is this run. Made by \`bash scripts/bench.sh\`; every figure is a median of interleaved runs on this shared 2-core machine.`,
  ``,
  `| budget | before | after | met? |`,
  `| --- | --- | --- | :---: |`,
  ...budgets.map((b) => `| ${b.budget} | ${b.before} | ${b.after} | ${b.met === undefined ? "–" : b.met ? "✅ met" : "❌ missed"} |`),
  ``,
];
console.log();
for (const l of header) console.log(l);
if (!quick && !only) writeFileSync(path.join(HERE, "results.md"), [...header, ...sections].join("\n") + "\n");
console.error(quick || only ? "(quick or partial run: bench/results.md not written)" : "written to bench/results.md");
process.exit(0);
