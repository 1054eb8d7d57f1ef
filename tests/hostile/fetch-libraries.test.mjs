// avito-auth handed another library's fetch, against the hostile upstream: npm undici (directly and
// through a ProxyAgent to a CONNECT proxy on 127.0.0.1, the way users reach Avito through a proxy)
// and node-fetch (whose body is a Node stream). Their Responses are not the global class: each
// must still go through the one bounded reader (README "Reliability"), so a decompression bomb or
// an 8 MiB body costs what it costs with the global fetch, and every other promise holds (kinds,
// at most one presentation of a single-use credential, no canary anywhere, the instance reusable).
// Bombs and huge bodies run in child processes where peak memory is measured, as in hostile.test.mjs.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadBoth, ROOT, SCRATCH } from "../support/load.mjs";
import { startHostileUpstream, bomb, SCENARIOS, ECHO_SCENARIOS, CANARY, canaryCredential, gatherFacts, checkOutcome, timeBound } from "../support/hostile-upstream.mjs";
import { GRANTS, makeClient, runCall } from "./hostile-worker.mjs";

const { esm: lib } = await loadBoth();
const TIMEOUT_MS = 1000;
const MiB = 1 << 20;
const MEMORY_BOUND_MIB = 48; // RSS, gross (see hostile.test.mjs for why)
const HEAP_BOUND_MIB = 16; // heapUsed + arrayBuffers + external, precise

// The libraries, resolved from the repository's devDependencies (a child process imports them by path).
const requireHere = createRequire(path.join(ROOT, "package.json"));
const LIBRARIES = { undici: requireHere.resolve("undici"), nodeFetch: requireHere.resolve("node-fetch") };
const undici = await import(pathToFileURL(LIBRARIES.undici).href);
const nodeFetch = (await import(pathToFileURL(LIBRARIES.nodeFetch).href)).default;

/**
 * A caller's fetch of each kind. The source is shared with the child processes (a string, so a
 * child builds the same function): `libs` holds the imported modules, `proxyUrl` the CONNECT proxy.
 */
const MAKE_FETCH = `(kind, libs, proxyUrl) => {
  if (kind === "undici") return (url, init) => libs.undici.fetch(url, init);
  if (kind === "undici-proxy") {
    const dispatcher = new libs.undici.ProxyAgent(proxyUrl);
    return (url, init) => libs.undici.fetch(url, { ...init, dispatcher });
  }
  if (kind === "node-fetch") return (url, init) => libs.nodeFetch(url, init);
  throw new Error("no fetch kind " + kind);
}`;
const makeFetch = (0, eval)(MAKE_FETCH);
const KINDS = ["undici", "undici-proxy", "node-fetch"];

/** A CONNECT proxy on 127.0.0.1 (what undici's ProxyAgent speaks), counting the tunnels it opened. */
async function startConnectProxy() {
  const tunnels = [];
  const server = http.createServer((req, res) => res.writeHead(405).end());
  const sockets = new Set();
  server.on("connect", (req, client, head) => {
    const [host, port] = req.url.split(":");
    tunnels.push(req.url);
    const upstream = net.connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
    }
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    tunnels,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
  };
}

const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason?.stack ?? String(reason)));

let upstream, proxy;
before(async () => {
  upstream = await startHostileUpstream();
  proxy = await startConnectProxy();
  await Promise.all(["gzip", "deflate", "br"].map(bomb));
});
after(async () => { await proxy?.close(); await upstream?.close(); });

const credFor = (grant, id) => canaryCredential(GRANTS[grant].secretField, id);

// --- in process: the promises of the hostile suite, through each library ------------------------
const LIGHT = ["reset-mid-body", "stall-after-headers", "content-length-long-then-close", "binary-garbage", "nested-error-400"];
const ECHO = ["echo-oauth-400", "echo-2kib-boundary", "echo-json-unicode-escapes", "echo-200-form-text"];

describe("hostile upstream through npm undici, undici + ProxyAgent and node-fetch (in process)", { concurrency: 8 }, () => {
  for (const kind of KINDS) {
    for (const scenario of [...LIGHT, ...ECHO]) {
      for (const grant of ["exchangeCode", "clientCredentials"]) {
        it(`${kind} × ${scenario} × ${grant}`, async () => {
          const fetch = makeFetch(kind, { undici, nodeFetch }, proxy.url);
          const ep = upstream.endpoint(scenario);
          const cred = credFor(grant, `${ep.id}.${kind}`);
          const client = makeClient(lib, grant, { host: ep.host, timeoutMs: TIMEOUT_MS, clientSecret: CANARY.clientSecret, fetch });
          const outcome = await runCall(client, cred, { inspect, deadlineMs: timeBound(Boolean(cred), TIMEOUT_MS) + 2000 });
          const facts = await gatherFacts(upstream, { scenarioName: scenario, field: GRANTS[grant].secretField, ep, cred, outcome, timeoutMs: TIMEOUT_MS });
          ep.set("ok");
          facts.reuse = await runCall(client, credFor(grant, `${ep.id}.${kind}.reuse`), { inspect, deadlineMs: 10_000 });
          assert.deepEqual(checkOutcome(facts), [], `${kind} × ${scenario} × ${grant}: ${outcome.elapsedMs} ms`);
        });
      }
    }
  }
  it("the ProxyAgent cases really went through the proxy", () => {
    assert.ok(proxy.tunnels.length > 0, "no CONNECT reached the proxy");
    assert.ok(proxy.tunnels.every((t) => t.startsWith("127.0.0.1:")), proxy.tunnels.join(", "));
  });
});

// --- child processes: bombs and huge bodies, peak memory ----------------------------------------
const MEMORY_CHILD = `
const a = JSON.parse(process.argv[process.argv.length - 1]);
const lib = await import(a.esm);
const { makeClient, runCall } = await import(a.runner);
const undici = await import(a.undici);
const nodeFetch = (await import(a.nodeFetch)).default;
const makeFetch = (0, eval)(a.makeFetch);
const fetch = makeFetch(a.kind, { undici, nodeFetch }, a.proxyUrl);
const unhandled = [];
process.on("unhandledRejection", (r) => unhandled.push(String(r?.stack ?? r)));
const client = makeClient(lib, a.grant, { host: a.host, timeoutMs: a.timeoutMs, clientSecret: a.clientSecret, fetch });
const warm = await runCall(client, a.warmCred, { deadlineMs: 10000 });
await runCall(client, a.warmCred && a.warmCred + " (2)", { deadlineMs: 10000 });
await fetch(a.setHostile, { method: "POST" });
const { measurePeak } = await import(a.measurePeak);
const { base, peak, outcome } = await measurePeak(() => runCall(client, a.cred, { deadlineMs: a.deadlineMs }));
await fetch(a.setOk, { method: "POST" });
const reuse = await runCall(client, a.reuseCred, { deadlineMs: 10000 });
await new Promise((r) => setTimeout(r, 50));
process.stdout.write("RESULT " + JSON.stringify({ warm, outcome, reuse, base, peak, unhandled }) + "\\n");
process.exit(0);
`;

function child(source, args, killAfterMs) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--expose-gc", "--input-type=module", "-e", source, JSON.stringify(args)], { cwd: SCRATCH, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const killer = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
    p.on("close", (code, signal) => {
      clearTimeout(killer);
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      resolve({ code, signal, err, result: line && JSON.parse(line.slice(7)) });
    });
  });
}

const HEAVY = Object.keys(SCENARIOS).filter((s) => SCENARIOS[s].expect.heavy); // the bombs, chunked-8mib
const heavyCases = KINDS.flatMap((kind) => HEAVY.map((s) => [kind, s, "clientCredentials"]));
heavyCases.push(["undici-proxy", "gzip-bomb", "refresh"], ["node-fetch", "chunked-8mib", "exchangeCode"]);
const figures = [];

describe(`bombs and huge bodies through other fetch libraries (child processes): within ${MEMORY_BOUND_MIB} MiB RSS / ${HEAP_BOUND_MIB} MiB heap of idle`, { concurrency: 1 }, () => {
  for (const [kind, scenario, grant] of heavyCases) {
    it(`${kind} × ${scenario} × ${grant}`, async () => {
      const ep = upstream.endpoint("ok");
      const cred = credFor(grant, `${ep.id}.0`);
      const deadlineMs = timeBound(Boolean(cred), TIMEOUT_MS) + 1000;
      const r = await child(MEMORY_CHILD, {
        esm: pathToFileURL(path.join(SCRATCH, "esm.mjs")).href,
        runner: pathToFileURL(path.join(ROOT, "tests/hostile/hostile-worker.mjs")).href,
        measurePeak: pathToFileURL(path.join(ROOT, "tests/support/measure-peak.mjs")).href,
        undici: pathToFileURL(LIBRARIES.undici).href, nodeFetch: pathToFileURL(LIBRARIES.nodeFetch).href,
        makeFetch: MAKE_FETCH, kind, proxyUrl: proxy.url, grant, host: ep.host, timeoutMs: TIMEOUT_MS, clientSecret: CANARY.clientSecret,
        warmCred: credFor(grant, `${ep.id}.warm`), cred, reuseCred: credFor(grant, `${ep.id}.reuse`), deadlineMs,
        setHostile: `${upstream.url}/__set/${ep.id}/${scenario}`, setOk: `${upstream.url}/__set/${ep.id}/ok`,
      }, deadlineMs + 20_000);
      const res = r.result;
      assert.ok(res, `the child reported nothing (exit ${r.code} ${r.signal ?? ""}): ${r.err.slice(-2000)}`);
      assert.ok(res.warm.ok, `warm-up against "ok" failed: ${JSON.stringify(res.warm).slice(0, 500)}`);
      const facts = await gatherFacts(upstream, { scenarioName: scenario, field: GRANTS[grant].secretField, ep, cred, outcome: res.outcome, timeoutMs: TIMEOUT_MS });
      facts.reuse = res.reuse;
      const problems = checkOutcome(facts);
      if (res.unhandled.length) problems.push(`unhandled rejection(s) in the child: ${res.unhandled.join("; ").slice(0, 500)}`);
      const dRss = (res.peak.rss - res.base.rss) / MiB, dHeap = (res.peak.heap - res.base.heap) / MiB;
      figures.push(`${kind} × ${scenario} × ${grant}: peak +${dRss.toFixed(1)} MiB RSS, +${dHeap.toFixed(1)} MiB heap (${res.outcome.elapsedMs} ms)`);
      if (dRss > MEMORY_BOUND_MIB) problems.push(`peak RSS ${dRss.toFixed(1)} MiB above idle (bound ${MEMORY_BOUND_MIB} MiB)`);
      if (dHeap > HEAP_BOUND_MIB) problems.push(`peak heap ${dHeap.toFixed(1)} MiB above idle (bound ${HEAP_BOUND_MIB} MiB)`);
      assert.deepEqual(problems, [], `${kind} × ${scenario} × ${grant}: ${res.outcome.elapsedMs} ms, peak +${dRss.toFixed(1)} MiB RSS, +${dHeap.toFixed(1)} MiB heap`);
    });
  }
  it("figures (diagnostics)", (t) => {
    for (const f of figures) t.diagnostic(f);
    assert.ok(figures.length > 0);
  });
});

describe("sweeps", () => {
  it("no unhandled rejection anywhere in the run", async () => {
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(unhandled, []);
  });
  it("nothing ever reached the redirect target on 127.0.0.2", () => {
    assert.deepEqual(upstream.redirectTarget.requests.map((r) => r.path), []);
  });
});

// Used by no other suite: the echo scenarios are imported so a renamed one fails loudly here.
assert.ok(ECHO.every((s) => ECHO_SCENARIOS[s]) && LIGHT.every((s) => SCENARIOS[s]));
