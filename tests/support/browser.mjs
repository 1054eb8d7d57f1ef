// Headless Chromium (Debian's /usr/bin/chromium through playwright-core) and a static file
// server on 127.0.0.1, for the browser tests.
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { ROOT } from "./load.mjs";

export async function launchChromium() {
  const { chromium } = await import(path.join(ROOT, "node_modules/playwright-core/index.mjs"));
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  }).catch((e) => assert.fail(`Chromium cannot start (apt-get install chromium): ${e.message}`));
}

const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html", ".css": "text/css" };

/** Serves `dir`; `pages` maps paths to HTML strings. Resolves to { url, close }. */
export async function serveDir(dir, pages = {}) {
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (pages[p] !== undefined) { res.writeHead(200, { "content-type": "text/html" }); return res.end(pages[p]); }
    let file = path.join(dir, path.normalize(p));
    if (existsSync(file) && statSync(file).isDirectory()) file = path.join(file, "index.html");
    if (!file.startsWith(dir) || !existsSync(file)) { res.writeHead(404); return res.end(); }
    res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

/** Opens `url`, waits for `window.__results` (set by the page), returns it. */
export async function pageResults(browser, url) {
  const page = await browser.newPage();
  const errors = [];
  let failed;
  const pageFailed = new Promise((resolve) => (failed = resolve));
  page.on("pageerror", (e) => { errors.push(String(e)); failed(); });
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(url);
  await Promise.race([page.waitForFunction(() => window.__results, null, { timeout: 60_000 }), pageFailed]).catch(() => {});
  if (!(await page.evaluate(() => !!window.__results))) assert.fail(`no results from ${url}; page errors:\n${errors.join("\n")}`);
  const results = await page.evaluate(() => window.__results);
  await page.close();
  return { results, errors };
}
