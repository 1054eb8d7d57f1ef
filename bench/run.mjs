// avito-auth benchmarks: per-call cost, cold start, bytes loaded, loopback throughput, memory.
// Everything is measured in one run on this machine, contenders interleaved, and reported as
// medians and ratios (absolute times drift on shared machines).
// Usage: node bench/run.mjs <scratchDir> [--quick]   (scripts/bench.sh builds and installs first)
import { spawn, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { handWritten, handWrittenWithTimeout, avitoAuth, oauth4, memoryFetch } from "./contenders.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..");
const scratch = path.resolve(process.argv[2] ?? path.join(ROOT, "tests/.scratch/node"));
const quick = process.argv.includes("--quick");
const PKG = path.join(scratch, "node_modules/avito-auth");
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (n, d = 0) => n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const kb = (n) => `${fmt(n / 1024, 1)} KB`;
const lines = [];
const out = (s = "") => { console.log(s); lines.push(s); };
const rotate = (xs, r) => xs.map((_, i) => xs[(i + r) % xs.length]);

const lib = await import(path.join(PKG, "node.mjs"));
const oauth = await import("oauth4webapi");
const URL_TOKEN = "https://api.avito.ru/token";

out(`# avito-auth benchmarks`);
out();
out(`${new Date().toISOString()} · Node ${process.version} · ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length} · avito-auth ${JSON.parse(readFileSync(path.join(PKG, "package.json"), "utf8")).version} · oauth4webapi ${JSON.parse(readFileSync(path.join(ROOT, "node_modules/oauth4webapi/package.json"), "utf8")).version}${quick ? " · QUICK run" : ""}`);
out();

// 1. Per-call cost -----------------------------------------------------------------------------
{
  const f = memoryFetch();
  const contenders = {
    "hand-written fetch (floor)": handWritten(f, URL_TOKEN),
    "hand-written fetch + 30 s timeout": handWrittenWithTimeout(f, URL_TOKEN),
    "avito-auth": avitoAuth(lib, f, "https://api.avito.ru"),
    "oauth4webapi": oauth4(oauth, f, URL_TOKEN),
  };
  const names = Object.keys(contenders);
  const perRound = quick ? 500 : 4000, rounds = quick ? 3 : 9;
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
  const o4 = median(samples.oauth4webapi);
  out(`## 1. Per-call cost (client_credentials, in-memory fetch returning a canned Response)`);
  out();
  out(`${rounds} interleaved rounds × ${fmt(perRound)} sequential calls; median ns/call.`);
  out();
  const withTimeout = median(samples["hand-written fetch + 30 s timeout"]);
  out(`| contender | ns/call | × floor | × floor + timeout | × oauth4webapi |`);
  out(`| --- | ---: | ---: | ---: | ---: |`);
  for (const n of names) { const m = median(samples[n]); out(`| ${n} | ${fmt(m)} | ${(m / floor).toFixed(2)} | ${(m / withTimeout).toFixed(2)} | ${(m / o4).toFixed(2)} |`); }
  out();
}

// 2. Cold start ------------------------------------------------------------------------------------
{
  const launches = quick ? 5 : 15;
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
  for (const k of kinds.slice(0, 3)) out(`| ${k} | ${samples[k].length ? median(samples[k]).toFixed(2) : "-"} | ${(median(samples[k]) / o4).toFixed(2)} |`);
  out(`| avito-auth: compile + instantiate the wasm alone | ${median(samples["wasm-only"]).toFixed(2)} | |`);
  out();
}

// 3. Bytes loaded ------------------------------------------------------------------------------------
{
  const esbuild = await import(path.join(ROOT, "node_modules/esbuild/lib/main.js"));
  const size = (files) => {
    const bufs = files.map((f) => readFileSync(path.join(PKG, f)));
    return { raw: bufs.reduce((a, b) => a + b.length, 0), gz: bufs.reduce((a, b) => a + gzipSync(b, { level: 9 }).length, 0) };
  };
  const wasm = size(["avito_auth_bg.wasm"]);
  const entries = {
    "Node ESM (node.mjs)": ["node.mjs", "avito_auth.js", "api.js"],
    "Node CJS (node.cjs)": ["node.cjs"],
    "workerd (workerd.js)": ["workerd.js", "avito_auth.js", "api.js"],
    "browser (browser.js)": ["browser.js", "avito_auth.js", "api.js"],
  };
  const bundle = async (contents, resolveDir, conditions) => {
    const r = await esbuild.build({ stdin: { contents, resolveDir, loader: "js" }, bundle: true, minify: true, write: false, format: "esm", platform: "neutral", conditions, mainFields: ["module", "main"], external: ["*.wasm", "node:*"], logLevel: "error" });
    const b = Buffer.from(r.outputFiles[0].contents);
    return { raw: b.length, gz: gzipSync(b, { level: 9 }).length };
  };
  const ourMin = await bundle(`export * from "avito-auth";`, scratch, ["browser"]);
  const o4min = await bundle(`export { clientCredentialsGrantRequest, processClientCredentialsResponse, ClientSecretPost, customFetch } from "oauth4webapi";`, ROOT, ["browser"]);
  const o4full = await bundle(`export * from "oauth4webapi";`, ROOT, ["browser"]);
  out(`## 3. Bytes loaded per runtime entry (raw / gzip -9)`);
  out();
  out(`| entry | JS | .wasm | total | total gzip |`);
  out(`| --- | ---: | ---: | ---: | ---: |`);
  for (const [name, files] of Object.entries(entries)) {
    const js = size(files);
    out(`| ${name} | ${kb(js.raw)} (${kb(js.gz)} gz) | ${kb(wasm.raw)} (${kb(wasm.gz)} gz) | ${kb(js.raw + wasm.raw)} | **${kb(js.gz + wasm.gz)}** |`);
  }
  out(`| browser entry bundled + minified by esbuild | ${kb(ourMin.raw)} (${kb(ourMin.gz)} gz) | ${kb(wasm.raw)} (${kb(wasm.gz)} gz) | ${kb(ourMin.raw + wasm.raw)} | **${kb(ourMin.gz + wasm.gz)}** |`);
  out(`| oauth4webapi, the 4 functions used, bundled + minified | ${kb(o4min.raw)} (${kb(o4min.gz)} gz) | – | ${kb(o4min.raw)} | **${kb(o4min.gz)}** |`);
  out(`| oauth4webapi, whole module, bundled + minified | ${kb(o4full.raw)} (${kb(o4full.gz)} gz) | – | ${kb(o4full.raw)} | **${kb(o4full.gz)}** |`);
  out();
}

// 4. Throughput over loopback ------------------------------------------------------------------------
{
  const server = spawn(process.execPath, [path.join(HERE, "token-server.mjs")], { stdio: ["ignore", "pipe", "inherit"] });
  const base = await new Promise((resolve) => server.stdout.once("data", (d) => resolve(String(d).trim())));
  try {
    const f = globalThis.fetch;
    const contenders = {
      "raw fetch": handWritten(f, `${base}/token`),
      "raw fetch + 30 s timeout": handWrittenWithTimeout(f, `${base}/token`),
      "avito-auth": avitoAuth(lib, undefined, base),
      "oauth4webapi": oauth4(oauth, f, `${base}/token`),
    };
    const names = Object.keys(contenders);
    const rounds = quick ? 1 : 3;
    out(`## 4. Throughput: client_credentials against a token server on 127.0.0.1 (separate process, keep-alive)`);
    out();
    out(`${rounds} interleaved rounds; median of rounds. Latency percentiles over all requests of the median round.`);
    out();
    out(`| concurrency | contender | req/s | × raw fetch | p50 ms | p99 ms |`);
    out(`| ---: | --- | ---: | ---: | ---: | ---: |`);
    for (const conc of [1, 64]) {
      const total = quick ? (conc === 1 ? 500 : 4000) : (conc === 1 ? 3000 : 30000);
      const results = Object.fromEntries(names.map((n) => [n, []]));
      for (const n of names) { // warm-up: connections, JIT
        const call = contenders[n];
        await Promise.all(Array.from({ length: conc }, async () => { for (let i = 0; i < 50; i++) await call(); }));
      }
      for (let r = 0; r < rounds; r++) {
        for (const n of rotate(names, r)) {
          const call = contenders[n];
          const lat = [];
          let next = 0;
          const t0 = performance.now();
          await Promise.all(Array.from({ length: conc }, async () => {
            while (next++ < total) { const s = performance.now(); await call(); lat.push(performance.now() - s); }
          }));
          results[n].push({ rps: total / ((performance.now() - t0) / 1000), lat });
        }
      }
      const pick = (n) => { const sorted = [...results[n]].sort((a, b) => a.rps - b.rps); return sorted[sorted.length >> 1]; };
      const rawRps = pick("raw fetch").rps;
      for (const n of names) {
        const m = pick(n);
        out(`| ${conc} | ${n} | ${fmt(m.rps)} | ${(m.rps / rawRps).toFixed(3)} | ${pct(m.lat, 50).toFixed(2)} | ${pct(m.lat, 99).toFixed(2)} |`);
      }
    }
    out();
  } finally {
    server.kill();
  }
}

// 5. Memory --------------------------------------------------------------------------------------------
{
  const calls = quick ? 100_000 : 1_000_000;
  const res = JSON.parse(execFileSync(process.execPath, ["--expose-gc", path.join(HERE, "memory.mjs"), scratch, String(calls)], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 20 }).trim());
  out(`## 5. Memory over ${fmt(calls)} calls (in-memory fetch, after GC)`);
  out();
  out(`| | before | ¼ | ½ | ¾ | after |`);
  out(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  out(`| wasm linear memory | ${kb(res.before.wasm)} | ${res.mid.map((m) => kb(m.wasm)).join(" | ")} | ${kb(res.after.wasm)} |`);
  out(`| JS heap used | ${kb(res.before.heap)} | ${res.mid.map((m) => kb(m.heap)).join(" | ")} | ${kb(res.after.heap)} |`);
  out();
}

if (!quick) writeFileSync(path.join(HERE, "results.md"), lines.join("\n") + "\n");
console.error(quick ? "(quick run: bench/results.md not written)" : "written to bench/results.md");
