// Browser apps built by bundlers: Vite (build and dev server) and webpack 5 resolve the
// `browser` entry, emit the .wasm as an asset from `new URL(…, import.meta.url)`, and keep the
// top-level await. The built page runs the shared scenarios in Chromium.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { startMockAvito } from "../support/mock-avito.mjs";
import { ROOT, closedPort } from "../support/load.mjs";
import { launchChromium, serveDir, pageResults } from "../support/browser.mjs";
import { assertScenariosPassed } from "../support/results.mjs";

const APP = path.join(ROOT, "tests/.scratch/bundler-app");
let mock, deadUrl, browser;

const assertAllPassed = (label, results, errors) => assertScenariosPassed(label, results, errors.join("\n"));
const query = () => `?mock=${encodeURIComponent(mock.url)}&dead=${encodeURIComponent(deadUrl)}`;

before(async () => {
  mock = await startMockAvito();
  deadUrl = `http://127.0.0.1:${await closedPort()}`;
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(APP, { recursive: true });
  copyFileSync(path.join(ROOT, "tests/runtimes/scenarios.mjs"), path.join(APP, "scenarios.mjs"));
  writeFileSync(path.join(APP, "package.json"), JSON.stringify({ name: "bundler-app", private: true, type: "module" }));
  // The app installs the packed tarball, as a user's project would.
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", path.join(ROOT, "target/avito-auth.tgz")], { cwd: APP });
  writeFileSync(path.join(APP, "main.js"), `
    import * as lib from "avito-auth";
    import { runScenarios } from "./scenarios.mjs";
    const q = new URLSearchParams(location.search);
    window.__results = await runScenarios(lib, { mockUrl: q.get("mock"), deadUrl: q.get("dead") });`);
  writeFileSync(path.join(APP, "index.html"), `<!doctype html><script type="module" src="/main.js"></script>`);
  browser = await launchChromium();
});
after(async () => { await browser?.close(); await mock?.close(); });

describe("bundlers", () => {
  it("Vite 8 build (default config)", async () => {
    const { build } = await import(path.join(ROOT, "node_modules/vite/dist/node/index.js"));
    await build({ root: APP, logLevel: "error", configFile: false, build: { outDir: path.join(APP, "dist-vite"), emptyOutDir: true } });
    const site = await serveDir(path.join(APP, "dist-vite"));
    try {
      const { results, errors } = await pageResults(browser, `${site.url}/${query()}`);
      assertAllPassed("Vite build", results, errors);
    } finally { await site.close(); }
  });

  it("Vite 8 dev server (default config)", async () => {
    const { createServer } = await import(path.join(ROOT, "node_modules/vite/dist/node/index.js"));
    const server = await createServer({ root: APP, logLevel: "error", configFile: false, server: { host: "127.0.0.1", port: 0 } });
    await server.listen();
    try {
      const { results, errors } = await pageResults(browser, `http://127.0.0.1:${server.httpServer.address().port}/${query()}`);
      assertAllPassed("Vite dev", results, errors);
    } finally { await server.close(); }
  });

  it("webpack 5 (default config, production)", async () => {
    const webpack = (await import(path.join(ROOT, "node_modules/webpack/lib/index.js"))).default;
    const out = path.join(APP, "dist-webpack");
    const stats = await new Promise((resolve, reject) => webpack({
      mode: "production", context: APP, entry: "./main.js", target: "web",
      output: { path: out, filename: "main.js", publicPath: "auto", clean: true },
    }, (err, s) => (err ? reject(err) : resolve(s))));
    assert.ok(!stats.hasErrors(), stats.toString("errors-only"));
    writeFileSync(path.join(out, "index.html"), `<!doctype html><script src="main.js"></script>`);
    const site = await serveDir(out);
    try {
      const { results, errors } = await pageResults(browser, `${site.url}/${query()}`);
      assertAllPassed("webpack", results, errors);
    } finally { await site.close(); }
  });
});
