// The same scenarios (scenarios.mjs) in every runtime, against the packed tarball installed in
// tests/.scratch/node. A runtime that cannot start fails its test with the reason; none is skipped.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, writeFileSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { startMockAvito } from "../support/mock-avito.mjs";
import { ROOT, SCRATCH, closedPort } from "../support/load.mjs";
import { bundleWithWrangler, startWorker } from "../support/worker.mjs";
import { launchChromium, serveDir, pageResults } from "../support/browser.mjs";
import { assertScenariosPassed } from "../support/results.mjs";

const BIN = path.join(ROOT, "node_modules");
const here = path.join(ROOT, "tests/runtimes");

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    if (!existsSync(cmd)) return resolve({ code: -1, out: "", err: `${cmd} is missing: run scripts/test.sh (it installs the runtimes)` });
    const p = spawn(cmd, args, { cwd: SCRATCH, env: { ...process.env, NO_COLOR: "1" }, ...opts });
    let out = "", err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("error", (e) => { clearTimeout(timer); resolve({ code: -1, out, err: String(e) }); });
    p.on("close", (code) => { clearTimeout(timer); resolve({ code, out, err }); });
  });
}

/** The RESULTS line a runtime printed (see run-node.mjs), checked. */
function assertAllPassed(label, { code, out, err }) {
  const line = out.split("\n").find((l) => l.startsWith("RESULTS "));
  assert.ok(line, `${label} did not report results (exit ${code}).\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-3000)}`);
  assertScenariosPassed(label, JSON.parse(line.slice(8)), err.slice(-3000));
}

let mock, deadUrl;
before(async () => {
  mock = await startMockAvito();
  deadUrl = `http://127.0.0.1:${await closedPort()}`;
  for (const f of ["scenarios.mjs", "run-node.mjs"]) copyFileSync(path.join(here, f), path.join(SCRATCH, f));
  writeFileSync(path.join(SCRATCH, "deno.json"), JSON.stringify({ nodeModulesDir: "manual" }));
});
after(() => mock.close());

const nodes = {
  "Node 18": path.join(BIN, "node18/bin/node"),
  "Node 20": "/usr/bin/node",
  "Node 22": path.join(BIN, "node22/bin/node"),
  "Node 24": path.join(BIN, "node24/bin/node"),
};

describe("Node.js", () => {
  for (const [label, bin] of Object.entries(nodes)) {
    for (const mode of ["esm", "cjs"]) {
      it(`${label} ${mode === "esm" ? "import" : "require"}`, async () => {
        const version = await run(bin, ["--version"]);
        assert.equal(version.code, 0, `${label} cannot start: ${version.err}`);
        assert.match(version.out, new RegExp(`^v${label.split(" ")[1]}\\.`), `${bin} is ${version.out}`);
        assertAllPassed(`${label} ${mode}`, await run(bin, [path.join(SCRATCH, "run-node.mjs"), mode, mock.url, deadUrl, SCRATCH]));
      });
    }
  }
});

// Every entry the exports map offers, required and imported in every Node, from a scratch project
// where npm installed only the tarball: no optional peer (redis, ioredis, pg) is there, so the
// stores must load without one (they use the client they are given, and node:crypto).
describe("every entry of the exports map loads through require() and import()", () => {
  const project = path.join(ROOT, "tests/.scratch/entries");
  let exports;
  before(() => {
    rmSync(project, { recursive: true, force: true });
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "entries", private: true }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", path.join(ROOT, "target/avito-auth.tgz")], { cwd: project, stdio: "ignore" });
    assert.deepEqual(readdirSync(path.join(project, "node_modules")).filter((f) => !f.startsWith(".")), ["avito-auth"], "npm installed a peer dependency");
    const pkg = JSON.parse(readFileSync(path.join(project, "node_modules/avito-auth/package.json"), "utf8"));
    for (const peer of Object.keys(pkg.peerDependencies)) assert.deepEqual(pkg.peerDependenciesMeta[peer], { optional: true }, peer);
    exports = pkg.exports;
    copyFileSync(path.join(here, "load-entries.mjs"), path.join(project, "load-entries.mjs"));
  });
  for (const [label, bin] of Object.entries(nodes)) {
    it(label, async () => {
      const r = await run(bin, [path.join(project, "load-entries.mjs")], { cwd: project });
      const line = r.out.split("\n").find((l) => l.startsWith("ENTRIES "));
      assert.ok(line, `${label} did not report (exit ${r.code}): ${r.err.slice(-3000)}`);
      const entries = JSON.parse(line.slice(8));
      assert.deepEqual(Object.keys(entries), Object.keys(exports));
      const broken = Object.entries(entries).flatMap(([subpath, ways]) => Object.entries(ways).filter(([, got]) => got.error).map(([way, got]) => `${way}("${subpath}"): ${got.error}`));
      assert.deepEqual(broken, [], `${label}: entries that do not load:\n${broken.join("\n")}`);
      for (const [subpath, { require: viaRequire, import: viaImport }] of Object.entries(entries)) {
        assert.deepEqual(viaRequire, viaImport, `${label} "${subpath}": require() and import() give different exports`);
        if (viaImport.names) assert.ok(viaImport.names.length > 0, `${label} "${subpath}" exports nothing`);
        if ("wasm" in viaImport) assert.equal(viaImport.wasm, true, `${label} "${subpath}" is not a valid wasm module`);
      }
    });
  }
});

describe("Deno and Bun", () => {
  it("Deno (deno export condition)", async () => {
    const deno = path.join(BIN, "@deno/linux-x64-glibc/deno");
    assertAllPassed("Deno", await run(deno, ["run", "--allow-net", "--allow-read", "--allow-env", "run-node.mjs", "bare", mock.url, deadUrl]));
  });
  for (const [how, mode] of [["import", "bare"], ["require", "bare-require"]]) {
    it(`Bun ${how} (bun export condition)`, async () => {
      const bun = path.join(BIN, "bun/bin/bun.exe");
      assertAllPassed(`Bun ${how}`, await run(bun, ["run-node.mjs", mode, mock.url, deadUrl]));
    });
  }
});

describe("Cloudflare workerd (Miniflare)", () => {
  // Without nodejs_compat the entry finds no node:diagnostics_channel (onEvent alone); with it,
  // the events are published there too.
  for (const flags of [[], ["nodejs_compat"]]) {
    it(`a module Worker bundled by wrangler${flags.length ? ", with nodejs_compat" : ""}`, async () => {
      const outdir = path.join(SCRATCH, `worker-dist${flags.length ? "-compat" : ""}`);
      mkdirSync(outdir, { recursive: true });
      writeFileSync(path.join(SCRATCH, "worker.mjs"), `
        import * as lib from "avito-auth";
        import { runScenarios } from "./scenarios.mjs";
        export default {
          async fetch(request) {
            const u = new URL(request.url);
            const diagnostics = globalThis.process?.getBuiltinModule?.("node:diagnostics_channel");
            const env = { mockUrl: u.searchParams.get("mock"), deadUrl: u.searchParams.get("dead"), diagnostics, channel: diagnostics !== undefined };
            return new Response("RESULTS " + JSON.stringify(await runScenarios(lib, env)));
          },
        };`);
      const script = await bundleWithWrangler(path.join(SCRATCH, "worker.mjs"), outdir);
      const mf = await startWorker(script, { compatibilityFlags: flags });
      try {
        const res = await mf.dispatchFetch(`http://worker/?mock=${encodeURIComponent(mock.url)}&dead=${encodeURIComponent(deadUrl)}`);
        assertAllPassed(`workerd${flags.length ? " nodejs_compat" : ""}`, { code: res.status, out: await res.text(), err: "" });
      } finally {
        await mf.dispose();
      }
    });
  }
});

describe("Chromium", () => {
  it("a page imports the browser entry (import map, no bundler)", async () => {
    const page = `<!doctype html><script type="importmap">{"imports":{"avito-auth":"/node_modules/avito-auth/browser.js"}}</script>
      <script type="module">
        import * as lib from "avito-auth";
        import { runScenarios } from "/scenarios.mjs";
        const q = new URLSearchParams(location.search);
        window.__results = await runScenarios(lib, { mockUrl: q.get("mock"), deadUrl: q.get("dead") });
      </script>`;
    const site = await serveDir(SCRATCH, { "/": page });
    const browser = await launchChromium();
    try {
      const { results, errors } = await pageResults(browser, `${site.url}/?mock=${encodeURIComponent(mock.url)}&dead=${encodeURIComponent(deadUrl)}`);
      assertScenariosPassed("Chromium", results, errors.join("\n"));
    } finally {
      await browser.close();
      await site.close();
    }
  });
});
