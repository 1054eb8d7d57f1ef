// The hostile-upstream scenarios inside Cloudflare's workerd: a Worker bundled by wrangler from
// the packed tarball (tests/hostile/hostile-worker.mjs + avito-auth), run by Miniflare, calling
// the same raw TCP server (tests/support/hostile-upstream.mjs) with workerd's own fetch. Checked
// per scenario × grant, with the same checkOutcome as the Node suite: the ApiException and its
// kind, the time bound (wall clock around the dispatch, measured here), at-most-once for codes
// and refresh tokens, the client closing sockets it gave up on, no canary in any rendering of
// the error, and the same instance working again — from a later request, as a module-scope
// client in a real Worker would be used.
//
// Console output is collected twice: by a spy inside the Worker (installed before avito-auth is
// evaluated) and from workerd's own stdout/stderr (Miniflare's handleRuntimeStdio); both are swept
// for canaries. Unhandled rejections are collected by the Worker's "unhandledrejection" listener.
// Peak memory is not measurable inside workerd (no per-isolate memory figure is exposed to the
// Worker or through Miniflare), so the bombs and huge bodies are checked for everything else.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { ROOT, SCRATCH } from "../support/load.mjs";
import { bundleWithWrangler, startWorker } from "../support/worker.mjs";
import { startHostileUpstream, bomb, SCENARIOS, ECHO_SCENARIOS, CANARY, canaryCredential, gatherFacts, checkOutcome, findLeaks, timeBound } from "../support/hostile-upstream.mjs";
import { GRANTS } from "./hostile-worker.mjs";

const FULL = process.env.HOSTILE_FULL === "1";
const REPEAT = FULL ? 3 : 1;
const TIMEOUT_MS = 1000;

let upstream, mf;
let workerdStdio = "";

before(async () => {
  upstream = await startHostileUpstream();
  await Promise.all(["gzip", "deflate", "br"].map(bomb));
  // The Worker sits in the scratch project, next to the installed tarball, so wrangler resolves
  // "avito-auth" the way a user's project does. The runner is imported first: its console spy
  // must be in place before the package is evaluated.
  copyFileSync(path.join(ROOT, "tests/hostile/hostile-worker.mjs"), path.join(SCRATCH, "hostile-worker.mjs"));
  writeFileSync(path.join(SCRATCH, "hostile-entry.mjs"),
    `import { makeWorker } from "./hostile-worker.mjs";\nimport * as lib from "avito-auth";\nexport default makeWorker(lib);\n`);
  const outdir = path.join(SCRATCH, "hostile-worker-dist");
  mkdirSync(outdir, { recursive: true });
  const script = await bundleWithWrangler(path.join(SCRATCH, "hostile-entry.mjs"), outdir);
  mf = await startWorker(script, {
    handleRuntimeStdio(stdout, stderr) {
      stdout.on("data", (d) => (workerdStdio += d));
      stderr.on("data", (d) => (workerdStdio += d));
    },
  });
});
after(async () => {
  await mf?.dispose();
  await upstream?.close();
});

async function post(route, body) {
  const res = await mf.dispatchFetch(`http://hostile.worker${route}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
  const text = await res.text();
  assert.equal(res.status, 200, `the Worker failed on ${route}: ${text.slice(0, 1000)}`);
  return JSON.parse(text);
}

/** One scenario × grant inside workerd: the hostile call, then the same instance against "ok". */
async function workerdCase(scenarioName, grant, round) {
  const field = GRANTS[grant].secretField;
  const ep = upstream.endpoint(scenarioName);
  const cred = canaryCredential(field, `${ep.id}.${round}`);
  const deadlineMs = timeBound(Boolean(field), TIMEOUT_MS) + 2000;
  const started = performance.now();
  const { outcome } = await post("/call", { caseId: ep.id, grant, host: ep.host, timeoutMs: TIMEOUT_MS, clientSecret: CANARY.clientSecret, cred, deadlineMs });
  // The wall clock of the whole dispatch, measured here (workerd's Date only advances on I/O).
  if (outcome.settled) outcome.elapsedMs = Math.round(performance.now() - started);
  const facts = await gatherFacts(upstream, { scenarioName, field, ep, cred, outcome, timeoutMs: TIMEOUT_MS });
  ep.set("ok");
  facts.reuse = (await post("/reuse", { caseId: ep.id, cred: canaryCredential(field, `${ep.id}.${round}.reuse`), deadlineMs: 10_000 })).outcome;
  const problems = checkOutcome(facts);
  assert.deepEqual(problems, [], `workerd: ${scenarioName} × ${grant}: ${outcome.elapsedMs} ms, ${facts.attempts} request(s)`);
}

const scenarios = Object.keys(SCENARIOS).filter((s) => s !== "ok");
const light = scenarios.filter((s) => !SCENARIOS[s].expect.heavy);
const heavy = scenarios.filter((s) => SCENARIOS[s].expect.heavy);

describe("hostile upstream × every grant (workerd)", { concurrency: 32 }, () => {
  for (const scenario of light) {
    for (const grant of Object.keys(GRANTS)) {
      for (let round = 0; round < REPEAT; round++) {
        it(`${scenario} × ${grant}${REPEAT > 1 ? ` #${round + 1}` : ""}`, () => workerdCase(scenario, grant, round));
      }
    }
  }
});

describe("secret-leak sweep: the server echoes the canaries back (workerd)", { concurrency: 32 }, () => {
  for (const scenario of Object.keys(ECHO_SCENARIOS)) {
    for (const grant of Object.keys(GRANTS)) {
      it(`${scenario} × ${grant}`, () => workerdCase(scenario, grant, 0));
    }
  }
});

// Bodies of 8 MiB and bombs of 256 MiB: one at a time, because the Worker is one isolate with one
// thread: a client that inflates a whole bomb blocks it, and a case running beside it would time
// out for that reason, not its own.
describe("huge bodies and bombs (workerd)", { concurrency: 1 }, () => {
  for (const scenario of heavy) {
    for (const grant of FULL ? Object.keys(GRANTS) : ["exchangeCode", "refresh", "clientCredentials"]) {
      it(`${scenario} × ${grant}`, () => workerdCase(scenario, grant, 0));
    }
  }
  it.skip("peak memory: not measurable inside workerd (no per-isolate figure is exposed); measured in Node (hostile.test.mjs)");
});

describe("whole-run sweeps (workerd)", () => {
  // workerd reports an internal rejection as unhandled whenever a fetch body that JS reads through
  // a reader (or pipeTo, async iteration, BYOB) errors: "Network connection lost." on a reset,
  // "Stream was cancelled." / "AbortError" when the request is aborted mid-body. avito-auth reads
  // bodies through a reader so that it can stop at 1 MiB (a bomb must not fill a 128 MiB isolate);
  // only `Response.text()` avoids the report, and it cannot stop. So these three reasons, and only
  // these, are the platform's — proven first by plain JS with no avito-auth involved.
  const WORKERD_STREAM_INTERNALS = [/^Error: Network connection lost\.$/, /^Error: Stream was cancelled\.$/, /^AbortError: The operation was aborted$/];
  const fromPlatform = (u) => WORKERD_STREAM_INTERNALS.some((re) => re.test(u.split("\n")[0]));
  it("no unhandled rejection inside the Worker (but workerd's own stream-internal reports)", async () => {
    await new Promise((r) => setTimeout(r, 100));
    const { unhandled } = await (await mf.dispatchFetch("http://hostile.worker/observations")).json();
    await (await mf.dispatchFetch("http://hostile.worker/unhandled-probe")).json(); // the listener works
    const { unhandled: probe } = await (await mf.dispatchFetch("http://hostile.worker/observations")).json();
    assert.ok(probe.some((u) => u.includes("hostile-unhandled-probe")), "the Worker's unhandledrejection listener saw nothing");
    assert.deepEqual(unhandled.filter((u) => !fromPlatform(u)), [], "an unhandled rejection that is not workerd's own stream report");
    const ep = upstream.endpoint("reset-mid-body");
    const { unhandled: plain } = await (await mf.dispatchFetch("http://hostile.worker/platform-reader-probe", { method: "POST", body: JSON.stringify({ target: `${ep.host}/token` }) })).json();
    assert.ok(plain.length > 0 && plain.every(fromPlatform), `plain JS reading a reset body reports the same: ${JSON.stringify(plain)}`);
  });
  it("no canary in the Worker's console output (spy) nor in workerd's stdout/stderr", async () => {
    // First prove both channels see what the Worker writes to console.
    await (await mf.dispatchFetch("http://hostile.worker/console-probe")).json();
    for (let i = 0; i < 50 && !workerdStdio.includes("hostile-console-probe"); i++) await new Promise((r) => setTimeout(r, 20));
    const { console: lines } = await (await mf.dispatchFetch("http://hostile.worker/observations")).json();
    assert.ok(lines.some((l) => l.includes("hostile-console-probe")), "the console spy inside the Worker saw nothing");
    assert.ok(workerdStdio.includes("hostile-console-probe"), "workerd's stdout/stderr did not carry the Worker's console output");
    assert.deepEqual(findLeaks({ "Worker console": lines.join("\n"), "workerd stdio": workerdStdio }, Object.values(CANARY)), []);
  });
  it("nothing ever reached the redirect target on 127.0.0.2", () => {
    assert.deepEqual(upstream.redirectTarget.requests.map((r) => r.path), []);
  });
});
