// End-to-end: headless Chromium clicks through "Sign in with Avito" on the demo site, served by
// the Node backend and by the Cloudflare Worker under workerd, against the mock Avito.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { bundleWithWrangler, startWorker } from "../support/worker.mjs";
import { launchChromium } from "../support/browser.mjs";

const OUT = path.join(ROOT, "tests/.scratch/www");
mkdirSync(OUT, { recursive: true });

async function nodeBackend() {
  const { startSite } = await import(path.join(ROOT, "www/server.mjs"));
  const site = await startSite({ port: 0, env: {} });
  return { url: site.url, mock: site.mock, close: site.close };
}

async function workerBackend() {
  const mock = await startMockAvito();
  const script = await bundleWithWrangler(path.join(ROOT, "www/worker.mjs"), path.join(OUT, "worker-dist"));
  const mf = await startWorker(script, {
    host: "127.0.0.1", port: 0,
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url, AVITO_AUTHORIZE_URL: `${mock.url}/oauth` },
  });
  const url = (await mf.ready).origin;
  return { url, mock, close: async () => { await mf.dispose(); await mock.close(); } };
}

describe("www demo in Chromium", () => {
  for (const [name, start] of [["Node backend", nodeBackend], ["Cloudflare Worker (workerd)", workerBackend]]) {
    it(`${name}: sign in, see masked tokens, refresh rotates the refresh token`, async () => {
      const site = await start();
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
        const received = [];
        page.on("response", async (r) => { try { received.push(await r.text()); } catch { /* redirects have no body */ } });

        await page.goto(site.url);
        await page.click("#signin");
        await page.waitForSelector("#allow"); // the mock consent page standing in for avito.ru
        assert.match(page.url(), /\/oauth\?response_type=code&pro_users_flow=true&client_id=demo-client&scope=messenger:read,items:info&state=/);
        assert.equal(await page.textContent("#scope"), "messenger:read,items:info");
        await page.click("#allow");
        await page.waitForSelector("#tokens");
        assert.equal(await page.textContent("#token-type"), "Bearer");
        assert.equal(await page.textContent("#scope"), "messenger:read,items:info");
        const expires = Date.parse((await page.textContent("#expires")).split(" ")[0]);
        assert.ok(Math.abs(expires - (Date.now() + 86400_000)) < 120_000, "expiry about 24 h ahead");
        const firstRefresh = await page.textContent("#refresh-token");
        assert.match(firstRefresh, /^rt_.{2}….{3} \(\d+ chars\)$/);
        assert.equal(site.mock.counts.code, 1);

        await page.click("#refresh");
        await page.waitForFunction(() => document.querySelector("#refreshes")?.textContent === "1");
        const secondRefresh = await page.textContent("#refresh-token");
        assert.notEqual(secondRefresh, firstRefresh, "the refresh token rotated");
        assert.equal(site.mock.counts.refresh, 1);
        await page.screenshot({ path: path.join(OUT, `${name.split(" ")[0].toLowerCase()}-signed-in.png`) });

        // Neither the client secret nor any full token ever reached the browser.
        const issued = [...site.mock.state.access.keys(), ...site.mock.state.refresh.keys()];
        const everything = received.join("\n") + (await page.content());
        assert.ok(!everything.includes("demo-secret"), "client secret reached the browser");
        for (const t of issued) assert.ok(!everything.includes(t), "a full token reached the browser");

        // A forged callback (wrong state) is refused.
        await page.goto(`${site.url}/callback?code=forged&state=evil`);
        assert.match(await page.textContent("#error"), /state/);
        assert.equal(site.mock.counts.code, 1, "no code exchange for a forged callback");

        // Denying consent shows the OAuth error.
        await page.context().clearCookies();
        await page.goto(site.url);
        await page.click("#signin");
        await page.click("#deny");
        assert.match(await page.textContent("#error"), /access_denied/);
      } finally {
        await browser.close();
        await site.close();
      }
    });
  }
});
