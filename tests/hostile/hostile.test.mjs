// avito-auth against a hostile token endpoint (tests/support/hostile-upstream.mjs: raw TCP,
// resets, stalls, lying lengths, decompression bombs, garbage, deep JSON, redirects…), in Node,
// with the packed tarball. For every scenario × grant, the README's promises:
//   - the promise rejects with the exported ApiException, of the kind the error table calls for;
//   - within timeoutMs × attempts + backoff (+ slack) — never hanging;
//   - a code / refresh token is presented at most once when the server may have consumed it;
//   - no unhandled rejection, no secret (canary) in any rendering of the error or on the console;
//   - the same instance then succeeds against a well-behaved endpoint.
// Huge bodies and bombs run in child processes, where peak memory is measured against the idle
// baseline; other child processes check that nothing stays armed once a call has settled (the
// process exits by itself). `HOSTILE_FULL=1` repeats every case and runs all grants in children.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { spawn } from "node:child_process";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { loadBoth, ROOT, SCRATCH } from "../support/load.mjs";
import { startHostileUpstream, bomb, SCENARIOS, ECHO_SCENARIOS, CANARY, canaryCredential, gatherFacts, checkOutcome, findLeaks, timeBound } from "../support/hostile-upstream.mjs";
import { GRANTS, makeClient, runCall, installConsoleSpy, captured } from "./hostile-worker.mjs";

const { esm: lib } = await loadBoth();
const FULL = process.env.HOSTILE_FULL === "1";
const REPEAT = FULL ? 3 : 1;
const TIMEOUT_MS = 1000;
/**
 * Peak memory a hostile call may add to the idle process. RSS is what the brief asks for, but it
 * is noisy here: a client that streams the body and stops at 1 MiB measured +0…17 MiB RSS on this
 * machine (V8 and malloc returning and re-touching pages), and +2…5 MiB of heapUsed + arrayBuffers
 * + external, which is exact. Under load (a build or a fuzzer on the other core) avito-auth's RSS
 * peaks moved from +4…21 to +24…31 MiB for the same code while the heap figure stayed at +8…11:
 * RSS then measures how far the garbage collector lags. So the heap figure is the precise bound,
 * and RSS a gross one that still catches an unbounded reader (the pre-rewrite package: +170…800).
 */
const MEMORY_BOUND_MIB = 48;
const HEAP_BOUND_MIB = 16;
const AVITO_AUTH_GRANTS = ["exchangeCode", "refresh", "clientCredentials"];

// Observers for the whole file: anything the package prints (console, process warnings) is swept
// for canaries at the end, and any unhandled rejection fails the suite.
const unhandled = [];
process.on("unhandledRejection", (reason) => unhandled.push(reason?.stack ?? String(reason)));
const warnings = [];
process.on("warning", (w) => warnings.push(`${w.name}: ${w.message}\n${w.stack}`));
installConsoleSpy(console);

const credFor = (grant, id) => canaryCredential(GRANTS[grant].secretField, id);

let upstream;
before(async () => {
  upstream = await startHostileUpstream();
  await Promise.all(["gzip", "deflate", "br"].map(bomb)); // built once (~0.2 s each), before any clock runs
});
after(() => upstream?.close());

const observe = (scenarioName, grant, ep, cred, outcome, timeoutMs) =>
  gatherFacts(upstream, { scenarioName, field: GRANTS[grant].secretField, ep, cred, outcome, timeoutMs });

/** One scenario × grant in this process: hostile call, then the same instance against "ok". */
async function inProcessCase(scenarioName, grant, round) {
  const ep = upstream.endpoint(scenarioName);
  const cred = credFor(grant, `${ep.id}.${round}`);
  const client = makeClient(lib, grant, { host: ep.host, timeoutMs: TIMEOUT_MS, clientSecret: CANARY.clientSecret });
  const outcome = await runCall(client, cred, { inspect, deadlineMs: timeBound(Boolean(cred), TIMEOUT_MS) + 2000 });
  const facts = await observe(scenarioName, grant, ep, cred, outcome, TIMEOUT_MS);
  ep.set("ok");
  facts.reuse = await runCall(client, credFor(grant, `${ep.id}.${round}.reuse`), { inspect, deadlineMs: 10_000 });
  const problems = checkOutcome(facts);
  assert.deepEqual(problems, [], `${scenarioName} × ${grant}: ${outcome.elapsedMs} ms, ${facts.attempts} request(s)`);
}

const light = Object.keys(SCENARIOS).filter((s) => s !== "ok" && !SCENARIOS[s].expect.heavy);

describe("hostile upstream × every grant (Node, in process)", { concurrency: 32 }, () => {
  for (const scenario of light) {
    for (const grant of Object.keys(GRANTS)) {
      for (let round = 0; round < REPEAT; round++) {
        it(`${scenario} × ${grant}${REPEAT > 1 ? ` #${round + 1}` : ""}`, () => inProcessCase(scenario, grant, round));
      }
    }
  }
});

describe("secret-leak sweep: the server echoes the canaries back (Node)", { concurrency: 32 }, () => {
  for (const scenario of Object.keys(ECHO_SCENARIOS)) {
    for (const grant of Object.keys(GRANTS)) {
      it(`${scenario} × ${grant}`, () => inProcessCase(scenario, grant, 0));
    }
  }
});

// --- child processes ---------------------------------------------------------------------------

/** Runs `source` (an ES module) in a fresh Node with `args` as JSON; resolves with its lines and timing. */
function child(source, args, { killAfterMs }) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--expose-gc", "--input-type=module", "-e", source, JSON.stringify(args)], { cwd: SCRATCH, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "", settledAt;
    p.stdout.on("data", (d) => {
      out += d;
      if (settledAt === undefined && out.includes("SETTLED ")) settledAt = performance.now();
    });
    p.stderr.on("data", (d) => (err += d));
    const killer = setTimeout(() => p.kill("SIGKILL"), killAfterMs);
    p.on("close", (code, signal) => {
      clearTimeout(killer);
      const line = (tag) => { const l = out.split("\n").find((x) => x.startsWith(`${tag} `)); return l && JSON.parse(l.slice(tag.length + 1)); };
      resolve({ code, signal, out, err, line, exitAfterSettledMs: settledAt === undefined ? undefined : performance.now() - settledAt });
    });
  });
}

const ESM = pathToFileURL(path.join(SCRATCH, "esm.mjs")).href;
const RUNNER = pathToFileURL(path.join(ROOT, "tests/hostile/hostile-worker.mjs")).href;
const MEASURE_PEAK = pathToFileURL(path.join(ROOT, "tests/support/measure-peak.mjs")).href;

// The memory child: warm up against "ok" (so fetch, the wasm and their buffers are already paid
// for), switch the endpoint to the hostile scenario and measure the call's peak memory over the
// idle baseline (tests/support/measure-peak.mjs). Then switch back and reuse the same instance.
// Output goes to process.stdout directly: console is spied on, and swept for canaries.
const MEMORY_CHILD = `
const a = JSON.parse(process.argv[process.argv.length - 1]);
const lib = await import(a.esm);
const { makeClient, runCall, installConsoleSpy, captured } = await import(a.runner);
const unhandled = [];
process.on("unhandledRejection", (r) => unhandled.push(String(r?.stack ?? r)));
installConsoleSpy(console);
const client = makeClient(lib, a.grant, { host: a.host, timeoutMs: a.timeoutMs, clientSecret: a.clientSecret });
const warm = await runCall(client, a.warmCred, { deadlineMs: 10000 });
const warm2 = await runCall(client, a.warmCred && a.warmCred + " (2)", { deadlineMs: 10000 });
await fetch(a.setHostile, { method: "POST" });
const { measurePeak } = await import(a.measurePeak);
const { base, peak, outcome } = await measurePeak(() => runCall(client, a.cred, { deadlineMs: a.deadlineMs }));
await fetch(a.setOk, { method: "POST" });
const reuse = await runCall(client, a.reuseCred, { deadlineMs: 10000 });
await new Promise((r) => setTimeout(r, 50)); // let a late unhandled rejection surface
process.stdout.write("RESULT " + JSON.stringify({ warm: warm.ok ? warm2 : warm, outcome, reuse, base, peak, console: captured, unhandled }) + "\\n");
process.exit(0); // a hung call must not keep the child alive: its outcome already says so
`;

const MiB = 1 << 20;
const memoryFigures = [];
const heavy = Object.keys(SCENARIOS).filter((s) => SCENARIOS[s].expect.heavy);
// Every heavy scenario × the AvitoAuth grants; the seed layer for a subset (all with HOSTILE_FULL=1).
const heavyCases = heavy.flatMap((s) => AVITO_AUTH_GRANTS.map((g) => [s, g]));
heavyCases.push(["gzip-bomb", "AccessApi.getAccessToken"], ["br-bomb", "ApplicationAccessApi.refreshAccessTokenAuthorizationCode"], ["chunked-8mib", "ApplicationAccessApi.getAccessTokenAuthorizationCode"]);
if (FULL) for (const s of heavy) for (const g of Object.keys(GRANTS)) if (!heavyCases.some(([a, b]) => a === s && b === g)) heavyCases.push([s, g]);

describe(`huge bodies and bombs (Node child processes): peak memory within ${MEMORY_BOUND_MIB} MiB RSS / ${HEAP_BOUND_MIB} MiB heap of idle`, { concurrency: 1 }, () => {
  for (const [scenario, grant] of heavyCases) {
    it(`${scenario} × ${grant}`, async () => {
      const ep = upstream.endpoint("ok");
      const cred = credFor(grant, `${ep.id}.0`);
      const singleUse = Boolean(cred);
      const deadlineMs = timeBound(singleUse, TIMEOUT_MS) + 1000;
      const r = await child(MEMORY_CHILD, {
        esm: ESM, runner: RUNNER, measurePeak: MEASURE_PEAK, grant, host: ep.host, timeoutMs: TIMEOUT_MS, clientSecret: CANARY.clientSecret,
        warmCred: credFor(grant, `${ep.id}.warm`), cred, reuseCred: credFor(grant, `${ep.id}.reuse`), deadlineMs,
        setHostile: `${upstream.url}/__set/${ep.id}/${scenario}`, setOk: `${upstream.url}/__set/${ep.id}/ok`,
      }, { killAfterMs: deadlineMs + 15_000 });
      const res = r.line("RESULT");
      assert.ok(res, `the child reported nothing (exit ${r.code} ${r.signal ?? ""}): ${r.err.slice(-2000)}`);
      assert.ok(res.warm.ok, `warm-up against "ok" failed: ${JSON.stringify(res.warm).slice(0, 500)}`);
      const facts = await observe(scenario, grant, ep, cred, res.outcome, TIMEOUT_MS);
      facts.reuse = res.reuse;
      facts.extraTexts = { "the child's console": res.console.join("\n") };
      const problems = checkOutcome(facts);
      if (res.unhandled.length) problems.push(`unhandled rejection(s) in the child: ${res.unhandled.join("; ").slice(0, 500)}`);
      const dRss = (res.peak.rss - res.base.rss) / MiB, dHeap = (res.peak.heap - res.base.heap) / MiB;
      memoryFigures.push(`${scenario} × ${grant}: idle RSS ${(res.base.rss / MiB).toFixed(1)} MiB, peak +${dRss.toFixed(1)} MiB RSS, +${dHeap.toFixed(1)} MiB heapUsed+arrayBuffers+external (${res.outcome.settled ? `${res.outcome.elapsedMs} ms` : "never settled"})`);
      if (dRss > MEMORY_BOUND_MIB) problems.push(`peak RSS ${dRss.toFixed(1)} MiB above idle (bound ${MEMORY_BOUND_MIB} MiB)`);
      if (dHeap > HEAP_BOUND_MIB) problems.push(`peak heapUsed+arrayBuffers+external ${dHeap.toFixed(1)} MiB above idle (bound ${HEAP_BOUND_MIB} MiB)`);
      assert.deepEqual(problems, [], `${scenario} × ${grant}: ${res.outcome.elapsedMs} ms, ${facts.attempts} request(s), peak +${dRss.toFixed(1)} MiB RSS`);
    });
  }
});

// The exit child: one hostile call, then nothing. A timer or socket still armed after the call
// settled (an uncleared 30 s timeout, a connection the server is still holding, a body still
// streaming) keeps the process alive; the parent times the gap between "SETTLED" and the exit.
const EXIT_CHILD = `
const a = JSON.parse(process.argv[process.argv.length - 1]);
const lib = await import(a.esm);
const { makeClient, runCall } = await import(a.runner);
const client = makeClient(lib, a.grant, { host: a.host, timeoutMs: a.timeoutMs, clientSecret: a.clientSecret });
const outcome = await runCall(client, a.cred, { deadlineMs: a.deadlineMs });
process.stdout.write("SETTLED " + JSON.stringify(outcome) + "\\n");
`;
const EXIT_WITHIN_MS = 1500;
const exitCases = [
  // [scenario, grant, timeoutMs (undefined = the 30 s default)]
  ["reset-before-status", "refresh", undefined], // settles at once: the 30 s timer must be cleared
  ["ssh-banner", "exchangeCode", 300], // the server keeps the socket open: the client must close it
  ["chunked-8mib", "refresh", undefined], // the body keeps coming: reading it must stop
  ["stall-after-headers", "exchangeCode", 300], // the timeout must really cancel the request
  ["trickle-body", "clientCredentials", 300], // the same after three attempts and two backoffs
];

describe(`nothing left armed once a call settled: the process exits within ${EXIT_WITHIN_MS} ms (Node child processes)`, { concurrency: 2 }, () => {
  for (const [scenario, grant, timeoutMs] of exitCases) {
    it(`${scenario} × ${grant}, timeoutMs ${timeoutMs ?? "default (30000)"}`, async () => {
      const ep = upstream.endpoint(scenario);
      const cred = credFor(grant, `${ep.id}.0`);
      const deadlineMs = timeBound(Boolean(cred), timeoutMs ?? 3000) + 1000;
      const r = await child(EXIT_CHILD, { esm: ESM, runner: RUNNER, grant, host: ep.host, timeoutMs, clientSecret: CANARY.clientSecret, cred, deadlineMs }, { killAfterMs: deadlineMs + 10_000 });
      const outcome = r.line("SETTLED");
      assert.ok(outcome, `the child never settled its call (exit ${r.code} ${r.signal ?? ""}): ${r.err.slice(-1500)}`);
      assert.ok(outcome.settled, `the call was still pending after ${outcome.elapsedMs} ms`);
      const kinds = SCENARIOS[scenario].expect.kinds;
      assert.ok(!outcome.ok && kinds.includes(outcome.error.kind), `expected ${kinds.join("|")}: ${JSON.stringify(outcome).slice(0, 400)}`);
      assert.equal(r.signal, null, `the process did not exit by itself within ${EXIT_WITHIN_MS + 10_000} ms of settling: something is still armed`);
      assert.equal(r.code, 0, r.err.slice(-1500));
      assert.ok(r.exitAfterSettledMs <= EXIT_WITHIN_MS, `the process exited ${Math.round(r.exitAfterSettledMs)} ms after the call settled (bound ${EXIT_WITHIN_MS} ms)`);
    });
  }
});

describe("whole-file sweeps (Node)", () => {
  it("no unhandled rejection anywhere in the run", async () => {
    // node:test also fails whichever test is running when one happens; this catches the ones that
    // surface between tests or after the last one.
    await new Promise((r) => setTimeout(r, 100)); // let late ones surface
    assert.deepEqual(unhandled, []);
  });
  it("no canary in anything written to console.* or emitted as a process warning", () => {
    console.debug("hostile-console-probe"); // the spy works (else this sweep could not fail)
    assert.ok(captured.some((l) => l.includes("hostile-console-probe")));
    const leaks = findLeaks({ console: captured.join("\n"), warnings: warnings.join("\n") }, Object.values(CANARY));
    assert.deepEqual(leaks, []);
  });
  it("nothing ever reached the redirect target on 127.0.0.2", () => {
    assert.deepEqual(upstream.redirectTarget.requests.map((r) => r.path), []);
  });
  it("peak memory was measured (figures reported as diagnostics)", (t) => {
    // Recorded by the child-process cases above; printed so a run shows what was measured.
    for (const f of memoryFigures) t.diagnostic(f);
    assert.ok(memoryFigures.length > 0, "no memory figure was recorded");
  });
});
