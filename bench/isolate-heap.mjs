// Does the Worker isolate's heap grow with faulty token requests? (A Worker isolate dies at
// 128 MB; the full Durable Object soak sees workerd's RSS grow with hangs and aborted fetches.)
// Starts Miniflare with bench/isolate-heap-worker.mjs (the packed avito-auth, bundled by wrangler)
// and its V8 inspector, runs phases of faulty token requests against the soak's rotating token
// server on 127.0.0.1 (every /token request hung: the client's timeout or the caller's
// AbortSignal ends it), and after each phase collects garbage through the inspector and records:
// the isolate's heap (Runtime.getHeapUsage), a heap snapshot's objects by constructor
// (HeapProfiler.takeHeapSnapshot), the package's wasm linear memory (WebAssembly.Memory
// byteLength) and workerd's RSS. Prints a table and the snapshot diffs, writes
// bench/isolate-heap-results.md.
// Usage: node bench/isolate-heap.mjs [scratchDir] [faulty requests per phase, 1500]
//   (scratchDir: an install of the packed tarball, as scripts/install-scratch.sh makes; default
//   bench/.scratch). Bounded: about a minute for 1500 per phase; only 127.0.0.1 traffic.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { WebSocket } from "undici";
import { ROOT, closedPort } from "../tests/support/load.mjs";
import { startRotatingTokenServer } from "../tests/support/rotating-token-server.mjs";
import { rssOf, workerdPids } from "../tests/support/soak-fleet.mjs";
import { bundleWithWrangler, startWorker } from "../tests/support/worker.mjs";

const scratch = path.resolve(process.argv[2] ?? path.join(ROOT, "bench/.scratch"));
const faulty = Number(process.argv[3] ?? 1500);
if (!existsSync(path.join(scratch, "node_modules/avito-auth/package.json"))) {
  console.error(`avito-auth is not installed in ${scratch}: bash scripts/build.sh && bash scripts/install-scratch.sh ${scratch}`);
  process.exit(2);
}
const MB = 1024 * 1024;
const KB = 1024;
const BOUND_MS = 170_000; // the whole run (the brief: under 3 minutes)
const CLIENT = { clientId: "soak-client", clientSecret: "soak-secret" };
const progress = (s) => console.error(`[isolate-heap] ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const watchdog = setTimeout(() => { console.error(`isolate-heap: over ${BOUND_MS} ms, giving up`); process.exit(1); }, BOUND_MS);

/** A CDP session on workerd's inspector: the one target of our Worker's isolate. */
async function inspect(port) {
  let targets;
  for (let i = 0; i < 50 && !targets; i++) {
    try { targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json(); } catch { await sleep(100); }
  }
  const target = targets?.find((t) => t.webSocketDebuggerUrl && /isolate-heap/.test(t.title ?? t.id ?? t.url ?? ""))
    ?? targets?.find((t) => t.webSocketDebuggerUrl);
  if (!target) throw new Error(`no inspector target on 127.0.0.1:${port}: ${JSON.stringify(targets)}`);
  // workerd names the host "localhost"; the socket is 127.0.0.1's.
  const ws = new WebSocket(target.webSocketDebuggerUrl.replace("localhost", "127.0.0.1"));
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = (e) => reject(new Error(`inspector: ${e.message ?? e.type}`)); });
  let id = 0;
  const pending = new Map();
  const listeners = new Map();
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.id !== undefined) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p?.reject(new Error(`${p.method}: ${m.error.message}`));
      else p?.resolve(m.result);
    } else listeners.get(m.method)?.(m.params);
  };
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const n = ++id;
    pending.set(n, { resolve, reject, method });
    ws.send(JSON.stringify({ id: n, method, params }));
  });
  return {
    target: target.title ?? target.id,
    send,
    on: (method, fn) => listeners.set(method, fn),
    close: () => ws.close(),
  };
}

/** The group a snapshot node counts in: its constructor (objects, native objects), its function
 * name (closures), or its node type (strings, code, arrays, hidden/system objects…). */
const groupName = (type, name) => (type === "object" || type === "native" ? name : type === "closure" ? `${name || "(anonymous)"}()` : `(${type})`);

/** A heap snapshot, reduced to counts and self sizes by constructor (objects), function name
 * (closures) or node type (strings, code, arrays, hidden/system objects…). */
async function snapshotSummary(cdp) {
  const chunks = [];
  cdp.on("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push(p.chunk));
  await cdp.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false, captureNumericValue: false });
  const snap = JSON.parse(chunks.join(""));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[fields.indexOf("type")];
  const [iType, iName, iSize, width] = [fields.indexOf("type"), fields.indexOf("name"), fields.indexOf("self_size"), fields.length];
  const groups = new Map();
  let bytes = 0;
  const { nodes, strings } = snap;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    const name = groupName(type, strings[nodes[i + iName]]);
    const g = groups.get(name) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += nodes[i + iSize];
    groups.set(name, g);
    bytes += nodes[i + iSize];
  }
  return { nodes: nodes.length / width, bytes, groups, snap };
}

/**
 * What keeps a node alive: the shortest path of strong edges from the snapshot's root to one
 * node of group `name` that `before` did not have (node ids are stable across snapshots), as
 * "Type.edge → …" text; null when there is none.
 */
function retainerPath(before, after, name) {
  const { snap } = after;
  const { node_fields: nf, edge_fields: ef, node_types: nt, edge_types: et } = snap.snapshot.meta;
  const W = nf.length, E = ef.length;
  const [iType, iName, iId, iEdges] = ["type", "name", "id", "edge_count"].map((f) => nf.indexOf(f));
  const [eType, eName, eTo] = ["type", "name_or_index", "to_node"].map((f) => ef.indexOf(f));
  const types = nt[iType], etypes = et[eType];
  const { nodes, edges, strings } = snap;
  const oldIds = new Set();
  for (let i = 0; i < before.snap.nodes.length; i += W) oldIds.add(before.snap.nodes[i + before.snap.snapshot.meta.node_fields.indexOf("id")]);
  const count = nodes.length / W;
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n] + nodes[n * W + iEdges] * E;
  const label = (n) => {
    const type = types[nodes[n * W + iType]];
    return type === "object" || type === "native" || type === "closure" ? strings[nodes[n * W + iName]] || `(${type})` : `(${type})`;
  };
  const groupOf = (n) => groupName(types[nodes[n * W + iType]], strings[nodes[n * W + iName]]);
  const parent = new Int32Array(count).fill(-1);
  const via = new Int32Array(count).fill(-1);
  parent[0] = 0;
  const queue = [0];
  for (let q = 0; q < queue.length; q++) {
    const n = queue[q];
    if (groupOf(n) === name && !oldIds.has(nodes[n * W + iId]) && n !== 0) {
      const path = [];
      for (let x = n; x !== 0; x = parent[x]) {
        const e = via[x];
        const t = etypes[edges[e + eType]];
        const edgeName = t === "element" || t === "hidden" ? `[${edges[e + eName]}]` : strings[edges[e + eName]];
        path.unshift(`${label(parent[x])}.${edgeName}`);
      }
      return `${path.join(" → ")} → ${label(n)}`;
    }
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += E) {
      if (etypes[edges[e + eType]] === "weak") continue;
      const to = edges[e + eTo] / W;
      if (parent[to] !== -1) continue;
      parent[to] = n;
      via[to] = e;
      queue.push(to);
    }
  }
  return null;
}

/** Groups whose count or size changed most between two summaries. */
function diff(a, b, top = 12) {
  const names = new Set([...a.groups.keys(), ...b.groups.keys()]);
  const rows = [...names].map((name) => {
    const x = a.groups.get(name) ?? { count: 0, bytes: 0 };
    const y = b.groups.get(name) ?? { count: 0, bytes: 0 };
    return { name, count: y.count - x.count, bytes: y.bytes - x.bytes, after: y.count };
  });
  return rows.filter((r) => r.count !== 0 || r.bytes !== 0).sort((p, q) => Math.abs(q.bytes) - Math.abs(p.bytes) || Math.abs(q.count) - Math.abs(p.count)).slice(0, top);
}

const server = await startRotatingTokenServer({
  seed: 1, expiresIn: 60, ...CLIENT, hangMs: 10_000,
  // Every /token request hangs while faults are on (nothing is spent: a refresh token stays live).
  rates: { refresh_token: { hang: 1 }, client_credentials: { hang: 1 } },
});
server.setFaults(false);
let mf;
let cdp;
try {
  const dir = path.join(scratch, "isolate-heap-worker");
  copyFileSync(path.join(ROOT, "bench/isolate-heap-worker.mjs"), path.join(scratch, "isolate-heap-worker.mjs"));
  const script = await bundleWithWrangler(path.join(scratch, "isolate-heap-worker.mjs"), dir);
  const inspectorPort = await closedPort();
  mf = await startWorker(script, {
    name: "isolate-heap",
    modulesRoot: dir,
    inspectorPort,
    durableObjects: { AVITO_TOKENS: "AvitoTokensDurableObject" },
  });
  progress(`workerd up; inspector on 127.0.0.1:${inspectorPort}`);
  cdp = await inspect(inspectorPort);
  progress(`inspecting ${cdp.target}`);
  const pids = workerdPids();
  const rss = () => pids.map(rssOf).reduce((s, x) => s + (x ?? 0), 0);
  const call = async (pathname, body) => {
    const res = await mf.dispatchFetch(`http://w${pathname}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`${pathname}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    return JSON.parse(text);
  };
  const seed = server.signIn({ via: "seed" });
  if (!(await call("/seed", { ...seed, expires_at: Date.now() - 1 })).stored) throw new Error("could not seed the Durable Object");

  const cfg = { host: server.url, concurrency: 50, timeoutMs: 200, deadlineMs: 150 };
  const phase = async (kind, n, { faults = kind !== "ok", ...extra } = {}) => {
    progress(`${kind} × ${n}`);
    server.setFaults(faults);
    const t = Date.now();
    const r = await call("/phase", { ...cfg, kind, n, ...extra });
    server.setFaults(false);
    return { ...r, ms: Date.now() - t };
  };
  const measure = async (label, ran) => {
    progress(`measuring: ${label}`);
    await sleep(300); // hung sockets closed at the server, timers of the phase run out
    // workerd's inspector never answers HeapProfiler.collectGarbage; a heap snapshot collects
    // all garbage first (V8), so the second snapshot and the usage after it are of a collected heap.
    await snapshotSummary(cdp);
    const snap = await snapshotSummary(cdp);
    const usage = await cdp.send("Runtime.getHeapUsage");
    const { wasmBytes } = await call("/wasm");
    return { label, ran, heapUsed: usage.usedSize, embedderHeap: usage.embedderHeapUsedSize, backing: usage.backingStorageSize, snapshotBytes: snap.bytes, snapshotNodes: snap.nodes, snap, wasmBytes, rss: rss() };
  };

  // Warm-up: every path once at scale (JIT, allocator, workerd's connection pool, lazy globals).
  for (const [kind, n] of [["ok", 300], ["timeout", 200], ["abort", 200], ["tm", 100], ["bare", 200]]) await phase(kind, n, kind === "tm" ? { deadlineMs: 300 } : {});
  const rows = [await measure("after warm-up", null)];
  rows.push(await measure("idle (nothing run)", null));
  rows.push(await measure("ok: 2000 answered clientCredentials()", await phase("ok", 2000)));
  rows.push(await measure("bare ok: 2000 answered plain fetch() (no avito-auth)", await phase("bare", 2000, { faults: false })));
  const faultyFrom = rows.length - 1;
  rows.push(await measure(`timeout: ${faulty} hung, AvitoAuth timeoutMs 200`, await phase("timeout", faulty)));
  rows.push(await measure(`abort: ${faulty} hung, caller's AbortSignal.timeout(150)`, await phase("abort", faulty)));
  rows.push(await measure(`tm-settled: ${faulty} getAccessToken() over the Durable Object, renewal hung, callers aborted at 300 ms; the request waits for its renewals`, await phase("tm-settled", faulty, { deadlineMs: 300 })));
  rows.push(await measure(`timeout again: ${faulty}`, await phase("timeout", faulty)));
  const faultyTo = rows.length - 1;
  rows.push(await measure(`bare hung: ${faulty} plain fetch(), AbortSignal.timeout(150) (no avito-auth)`, await phase("bare", faulty)));
  rows.push(await measure(`tm: ${faulty} as tm-settled, but the request returns with its renewals pending`, await phase("tm", faulty, { deadlineMs: 300 })));
  await sleep(3000);
  rows.push(await measure("3 s later (idle)", null));

  const mbs = (n) => `${(n / MB).toFixed(2)} MB`;
  const delta = (n, unit = MB) => `${n >= 0 ? "+" : "−"}${(Math.abs(n) / unit).toFixed(unit === MB ? 2 : 1)} ${unit === MB ? "MB" : "KB"}`;
  const version = JSON.parse(readFileSync(path.join(scratch, "node_modules/avito-auth/package.json"), "utf8")).version;
  let commit = "unknown";
  try { commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim(); } catch { /* not a checkout */ }
  const lines = [];
  const out = (s = "") => { console.log(s); lines.push(s); };
  out("# Worker isolate heap under faulty token requests");
  out();
  out(`${new Date().toISOString()} · Node ${process.version} · workerd (Miniflare ${JSON.parse(readFileSync(path.join(ROOT, "node_modules/miniflare/package.json"), "utf8")).version}) · ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length} · avito-auth ${version} (commit ${commit}) · \`flock /tmp/avito-cpu.lock node bench/isolate-heap.mjs\``);
  out();
  out(`After each phase, through workerd's inspector (target ${cdp.target}): two heap snapshots (\`HeapProfiler.takeHeapSnapshot\`: V8 collects all garbage first; workerd does not answer \`HeapProfiler.collectGarbage\`), the second one's nodes' self sizes summed by constructor, then \`Runtime.getHeapUsage\` (V8's JS heap, and the embedder's cppgc heap: workerd's C++ objects such as Request, Response, AbortSignal), the package's wasm linear memory (\`WebAssembly.Memory\` byteLength, read in the Worker) and workerd's RSS (/proc). Phases run ${cfg.concurrency} calls at a time against the rotating token server on 127.0.0.1, every /token request hung when faulty (nothing answered: the client's timeout or the caller's signal ends it).`);
  out();
  out("| after | calls (ok / failed by kind) | time | JS heap used | embedder (cppgc) heap | snapshot (objects) | wasm memory | workerd RSS |");
  out("| --- | --- | --- | --- | --- | --- | --- | --- |");
  rows.forEach((r, i) => {
    const p = rows[i - 1];
    const d = (k, unit) => (p ? ` (${delta(r[k] - p[k], unit)})` : "");
    const ran = r.ran ? `${r.ran.calls} (${r.ran.ok} / ${JSON.stringify(r.ran.errors)})` : "—";
    out(`| ${r.label} | ${ran.replace(/\|/g, "\\|")} | ${r.ran ? `${r.ran.ms} ms` : "—"} | ${mbs(r.heapUsed)}${d("heapUsed", KB)} | ${mbs(r.embedderHeap)}${d("embedderHeap", KB)} | ${mbs(r.snapshotBytes)}, ${r.snapshotNodes} nodes${d("snapshotBytes", KB)} | ${mbs(r.wasmBytes)}${d("wasmBytes", KB)} | ${mbs(r.rss)}${d("rss")} |`);
  });
  const first = rows[1]; // idle after the warm-up
  const [a, b] = [rows[faultyFrom], rows[faultyTo]];
  const faultyCalls = rows.slice(faultyFrom + 1, faultyTo + 1).reduce((s, r) => s + r.ran.calls, 0);
  const perCall = (x, y, n) => `${((y.rss - x.rss) / n / KB).toFixed(1)} KB per call`;
  const bare = rows[faultyTo + 1], orphan = rows[faultyTo + 2], okRow = rows[2], bareOk = rows[3];
  out();
  out(`- answered calls: avito-auth ${okRow.ran.calls}: JS heap ${delta(okRow.heapUsed - first.heapUsed, KB)}, wasm ${delta(okRow.wasmBytes - first.wasmBytes, KB)}, workerd RSS ${delta(okRow.rss - first.rss)} (${perCall(first, okRow, okRow.ran.calls)}); plain fetch ${bareOk.ran.calls}: JS heap ${delta(bareOk.heapUsed - okRow.heapUsed, KB)}, RSS ${delta(bareOk.rss - okRow.rss)} (${perCall(okRow, bareOk, bareOk.ran.calls)}).`);
  out(`- the ${faultyCalls} faulty avito-auth calls whose requests waited for their renewals ("${rows[faultyFrom + 1].label.split(":")[0]}" to "${b.label.split(":")[0]}"): JS heap ${delta(b.heapUsed - a.heapUsed, KB)}, wasm ${delta(b.wasmBytes - a.wasmBytes, KB)}, workerd RSS ${delta(b.rss - a.rss)} (${perCall(a, b, faultyCalls)}); ${bare.ran.calls} hung plain fetches: JS heap ${delta(bare.heapUsed - b.heapUsed, KB)}, RSS ${delta(bare.rss - b.rss)} (${perCall(b, bare, bare.ran.calls)}).`);
  out(`- ${orphan.ran.calls} getAccessToken() calls whose request returned with renewals pending: JS heap ${delta(orphan.heapUsed - bare.heapUsed, KB)}, snapshot ${delta(orphan.snapshotBytes - bare.snapshotBytes, KB)} (${orphan.snapshotNodes - bare.snapshotNodes} objects), wasm ${delta(orphan.wasmBytes - bare.wasmBytes, KB)}; 3 s later: JS heap ${delta(rows.at(-1).heapUsed - bare.heapUsed, KB)}.`);
  const section = (title, a, b) => {
    out();
    out(`## Heap snapshot diff: ${title}`);
    out();
    out("| constructor / function / node type | count Δ | self size Δ | count after |");
    out("| --- | --- | --- | --- |");
    const rows = diff(a.snap, b.snap);
    for (const r of rows) out(`| ${r.name.replace(/\|/g, "\\|").slice(0, 80)} | ${r.count >= 0 ? "+" : ""}${r.count} | ${delta(r.bytes, KB)} | ${r.after} |`);
    const grown = rows.filter((r) => r.count > 0 && !r.name.startsWith("(")).slice(0, 3);
    if (grown.length) out();
    for (const r of grown) out(`- what holds a new ${r.name}: ${retainerPath(a.snap, b.snap, r.name) ?? "nothing from the root (garbage left for the next GC)"}`);
  };
  section(`the ${faultyCalls} faulty avito-auth calls (after "${a.label.split(":")[0]}" → after "${b.label.split(":")[0]}")`, a, b);
  section(`the ${bare.ran.calls} hung plain fetches (no avito-auth)`, b, bare);
  section(`the ${orphan.ran.calls} getAccessToken() calls whose request returned with its renewals pending (→ 3 s later)`, bare, rows.at(-1));
  section("idle: two measurements with nothing run between them", rows[0], rows[1]);
  writeFileSync(path.join(ROOT, "bench/isolate-heap-results.md"), `${lines.join("\n")}\n`);
} finally {
  cdp?.close();
  await mf?.dispose().catch(() => {});
  await server.close();
  clearTimeout(watchdog);
}
