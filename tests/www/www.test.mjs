// End-to-end: headless Chromium clicks through "Sign in with Avito" on the demo site, served by
// the Node backend and by the Cloudflare Worker under workerd, against the mock Avito. Then the
// site as the Internet meets it: malformed cookies, hosts and bodies (400/413, the server lives
// on), Secure `__Host-` cookies over https, a double click on "Refresh tokens".
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { ROOT } from "../support/load.mjs";
import { startMockAvito } from "../support/mock-avito.mjs";
import { bundleWithWrangler, startWorker } from "../support/worker.mjs";
import { launchChromium } from "../support/browser.mjs";

const OUT = path.join(ROOT, "tests/.scratch/www");
mkdirSync(OUT, { recursive: true });

async function nodeBackend(env = {}) {
  const { startSite } = await import(path.join(ROOT, "www/server.mjs"));
  const site = await startSite({ port: 0, env });
  const send = (p, init = {}) => fetch(`${site.url}${p}`, { redirect: "manual", ...init });
  return { url: site.url, mock: site.mock, close: site.close, send };
}

async function workerBackend() {
  const mock = await startMockAvito();
  const script = await bundleWithWrangler(path.join(ROOT, "www/worker.mjs"), path.join(OUT, "worker-dist"));
  const mf = await startWorker(script, {
    host: "127.0.0.1", port: 0,
    bindings: { AVITO_CLIENT_ID: "demo-client", AVITO_CLIENT_SECRET: "demo-secret", AVITO_HOST: mock.url, AVITO_AUTHORIZE_URL: `${mock.url}/oauth` },
  });
  const url = (await mf.ready).origin;
  const send = (p, init = {}) => fetch(`${url}${p}`, { redirect: "manual", ...init });
  // The Worker as deployed answers https: Miniflare hands it such a request directly.
  const sendHttps = (p, init = {}) => mf.dispatchFetch(`https://demo.example${p}`, { redirect: "manual", ...init });
  return { url, mock, close: async () => { await mf.dispose(); await mock.close(); }, send, sendHttps };
}

/**
 * Signs in without a browser through `send(path, init)`: /login, the mock's consent (Allow), the
 * callback with the state cookie. Returns the callback's Set-Cookie lines and the session cookie.
 */
async function signIn(send, mock) {
  const login = await send("/login");
  assert.equal(login.status, 302);
  const stateCookie = login.headers.getSetCookie()[0].split(";")[0];
  const asked = new URL(login.headers.get("location"));
  const decide = new URL("/oauth/decide", mock.url);
  for (const k of ["client_id", "scope", "state", "redirect_uri"]) decide.searchParams.set(k, asked.searchParams.get(k));
  decide.searchParams.set("allow", "1");
  const back = new URL((await fetch(decide, { redirect: "manual" })).headers.get("location"));
  const callback = await send(`${back.pathname}${back.search}`, { headers: { cookie: stateCookie } });
  assert.equal(callback.status, 302, await callback.text());
  const setCookies = callback.headers.getSetCookie();
  return { login: login.headers.getSetCookie(), setCookies, session: setCookies[0].split(";")[0] };
}

/** Sends raw bytes to the site and resolves to the status line of the answer ("" when none). */
function raw(siteUrl, bytes, { end = false } = {}) {
  const { hostname, port } = new URL(siteUrl);
  return new Promise((resolve, reject) => {
    let got = "";
    const socket = net.connect(Number(port), hostname, () => (end ? socket.end(bytes) : socket.write(bytes)));
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no answer to ${JSON.stringify(bytes.slice(0, 40))}`)); }, 10_000);
    socket.setEncoding("latin1").on("data", (d) => (got += d));
    socket.on("error", () => {}).on("close", () => { clearTimeout(timer); resolve(got.split("\r\n")[0]); });
  });
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

describe("www demo as the Internet meets it", () => {
  it("Node backend: malformed cookies, hosts and bodies get 400 (413 past 64 KiB), and the server lives on", async () => {
    const site = await nodeBackend();
    try {
      const big = "x".repeat(70 * 1024);
      const chunked = (body) => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      for (const [request, status, why] of [
        ["GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sid=%E0%A4%A\r\n\r\n", 400, "a cookie that is not percent-encoding"],
        ["GET /callback?code=a&state=b HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: a=1; oauth_state=%\r\n\r\n", 400, "a malformed state cookie"],
        ["POST /refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sid=%ZZ\r\nContent-Length: 0\r\n\r\n", 400, "a malformed session cookie on a POST"],
        ["GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "a Host with a space"],
        ["GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400, "an unclosed IPv6 Host"],
        ["GET / HTTP/1.1\r\nHost: user@evil.example\r\n\r\n", 400, "a Host with userinfo"],
        ["GET / HTTP/1.1\r\nHost: 127.0.0.1:99999999\r\n\r\n", 400, "a Host with a bad port"],
        ["GET / HTTP/1.0\r\n\r\n", 400, "no Host at all"],
        ["GET http://a:b:c/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "a request target no URL accepts"],
        ["POST /refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nnot chunked\r\n\r\n", 400, "a broken chunked body"],
        ["POST /refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n", 400, "a Content-Length that is no number"],
        [`POST /refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${big.length}\r\n\r\n${big}`, 413, "a body over 64 KiB"],
        [`POST /logout HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(big)}`, 413, "a chunked body over 64 KiB"],
        [`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`, 400, "headers over Node's limit"],
        ["\x00\x01 garbage\r\n\r\n", 400, "not HTTP"],
      ]) assert.equal(await raw(site.url, request), `HTTP/1.1 ${status} ${status === 400 ? "Bad Request" : "Payload Too Large"}`, why);
      // A body cut off by the client: nothing to answer, and nothing breaks.
      assert.match(await raw(site.url, "POST /refresh HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nonly ten..", { end: true }), /^(HTTP\/1\.1 400 Bad Request)?$/);
      const alive = await site.send("/");
      assert.equal(alive.status, 200, "the server is alive");
      // And a real sign-in still works on it.
      const { session } = await signIn(site.send, site.mock);
      assert.match(await (await site.send("/", { headers: { cookie: session } })).text(), /id="tokens"/);
    } finally {
      await site.close();
    }
  });

  it("Cloudflare Worker (workerd): a malformed cookie is 400, a body over 64 KiB 413", async () => {
    const site = await workerBackend();
    try {
      for (const cookie of ["sid=%E0%A4%A", "oauth_state=%", "__Host-sid=%zz"]) {
        const res = await site.send("/", { headers: { cookie } });
        assert.equal(res.status, 400, cookie);
        assert.equal(await res.text(), "malformed cookie\n");
      }
      const res = await site.send("/refresh", { method: "POST", body: "x".repeat(70 * 1024) });
      assert.equal(res.status, 413);
      assert.equal((await site.send("/")).status, 200, "the Worker goes on");
    } finally {
      await site.close();
    }
  });

  it("cookies over https: Secure, `__Host-` names, Path=/ (Worker; Node behind a proxy with TRUST_PROXY=1); over http plain", async () => {
    const worker = await workerBackend();
    const proxied = await nodeBackend({ TRUST_PROXY: "1" });
    try {
      const behindProxy = (p, init = {}) => proxied.send(p, { ...init, headers: { "x-forwarded-proto": "https", ...init.headers } });
      for (const [name, send, mock] of [["Worker", worker.sendHttps, worker.mock], ["Node, TRUST_PROXY=1", behindProxy, proxied.mock]]) {
        const { login, setCookies, session } = await signIn(send, mock);
        assert.match(login[0], /^__Host-oauth_state=[\w-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=600$/, name);
        assert.match(setCookies[0], /^__Host-sid=[\w-]{43}; Path=\/; Secure; HttpOnly; SameSite=Lax$/, name);
        assert.match(setCookies[1], /^__Host-oauth_state=; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=0$/, name);
        assert.match(await (await send("/", { headers: { cookie: session } })).text(), /id="tokens"/, name);
        // The plain-http name is not the https session.
        const plain = session.replace(/^__Host-/, "");
        assert.doesNotMatch(await (await send("/", { headers: { cookie: plain } })).text(), /id="tokens"/, name);
        const out = await send("/logout", { method: "POST", headers: { cookie: session } });
        assert.deepEqual(out.headers.getSetCookie(), ["__Host-sid=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"], name);
      }
      // Plain http (local development): no Secure, no prefix; X-Forwarded-Proto is ignored without TRUST_PROXY.
      const local = await nodeBackend();
      try {
        for (const headers of [{}, { "x-forwarded-proto": "https" }]) {
          const { login, setCookies } = await signIn((p, init = {}) => local.send(p, { ...init, headers: { ...headers, ...init.headers } }), local.mock);
          assert.match(login[0], /^oauth_state=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600$/);
          assert.match(setCookies[0], /^sid=[\w-]{43}; Path=\/; HttpOnly; SameSite=Lax$/);
        }
      } finally {
        await local.close();
      }
    } finally {
      await worker.close();
      await proxied.close();
    }
  });

  for (const [name, start] of [["Node backend", nodeBackend], ["Cloudflare Worker (workerd)", workerBackend]]) {
    it(`${name}: a double click on "Refresh tokens" joins one refresh and the user stays signed in`, async () => {
      const site = await start();
      try {
        const { session } = await signIn(site.send, site.mock);
        const cookie = { cookie: session };
        site.mock.tokenDelayMs = 400; // the first refresh is still running when the second click arrives
        const clicks = await Promise.all([0, 1].map(() => site.send("/refresh", { method: "POST", headers: cookie })));
        site.mock.tokenDelayMs = 0;
        assert.deepEqual(clicks.map((r) => [r.status, r.headers.get("location")]), [[302, "/"], [302, "/"]]);
        assert.equal(site.mock.counts.refresh, 1, "one refresh token presentation for both clicks");
        const home = await (await site.send("/", { headers: cookie })).text();
        assert.match(home, /id="tokens"/, "still signed in");
        assert.match(home, /<dd id="refreshes">1<\/dd>/);
        // A later click refreshes again, with the rotated token.
        assert.equal((await site.send("/refresh", { method: "POST", headers: cookie })).status, 302);
        assert.equal(site.mock.counts.refresh, 2);
        assert.match(await (await site.send("/", { headers: cookie })).text(), /<dd id="refreshes">2<\/dd>/);
      } finally {
        await site.close();
      }
    });
  }
});
