// The public contract of avito-auth (issue 2), run against the packed tarball in both module
// systems, with real HTTP to a mock Avito on 127.0.0.1.
import { describe, it, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { startMockAvito } from "../support/mock-avito.mjs";
import { loadBoth, closedPort } from "../support/load.mjs";

const mods = await loadBoth();
const ID = "demo-client";
const SECRET = "demo-secret";
const EXPORTS = ["Configuration", "ApiClient", "ApplicationAccessApi", "AccessApi", "ApiException", "AvitoAuth", "TokenManager", "parseCallback"];

/** Every representation of an error a user might print or log. */
function everyRendering(err) {
  return [err.message, String(err), JSON.stringify(err), inspect(err, { depth: 5, showHidden: true }), err.stack ?? "", err.body ?? "", err.errorDescription ?? ""].join("\n");
}
function assertNoSecrets(err, secrets) {
  const all = everyRendering(err);
  for (const s of secrets) assert.ok(!all.includes(s), `secret ${JSON.stringify(s.slice(0, 4))}… leaked into the error: ${all.slice(0, 500)}`);
}

for (const [system, lib] of Object.entries(mods)) {
  describe(`avito-auth via ${system}`, () => {
    let mock;
    const conf = (extra = {}) => new lib.Configuration({ host: mock.url, ...extra });
    const app = (extra) => new lib.ApplicationAccessApi(new lib.ApiClient(conf(extra)));
    const access = (extra) => new lib.AccessApi(new lib.ApiClient(conf(extra)));
    const auth = (extra = {}) => new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host: mock.url, ...extra });
    const rejects = async (promise, kind, check) => {
      let err;
      await promise.then(() => assert.fail(`expected ApiException ${kind}`), (e) => (err = e));
      assert.ok(err instanceof lib.ApiException, `not an ApiException: ${err}`);
      assert.ok(err instanceof Error);
      assert.equal(err.name, "ApiException");
      assert.equal(err.kind, kind, `${err.kind}: ${err.message}`);
      check?.(err);
      return err;
    };
    const throwsKind = (fn, kind) => {
      let err;
      try { fn(); } catch (e) { err = e; }
      assert.ok(err instanceof lib.ApiException, `expected ApiException, got ${err}`);
      assert.equal(err.kind, kind);
      return err;
    };

    before(async () => { mock = await startMockAvito(); });
    after(() => mock.close());
    beforeEach(() => mock.reset());

    it("exports the public names", () => {
      for (const name of EXPORTS) assert.equal(typeof lib[name], "function", name);
    });

    describe("seed-shaped layer", () => {
      it("client_credentials: exact request and a plain result", async () => {
        const res = await access().getAccessToken(ID, SECRET);
        assert.equal(Object.getPrototypeOf(res), Object.prototype);
        assert.deepEqual(Object.keys(res).sort(), ["access_token", "expires_in", "token_type"]);
        assert.match(res.access_token, /^at_/);
        assert.equal(res.expires_in, 86400);
        assert.equal(res.token_type, "Bearer");
        assert.equal(res.free, undefined);
        assert.deepEqual(JSON.parse(JSON.stringify(res)), res);
        const [req] = mock.requests;
        assert.equal(mock.requests.length, 1);
        assert.equal(req.method, "POST");
        assert.equal(req.url, "/token");
        assert.equal(req.headers["content-type"], "application/x-www-form-urlencoded");
        assert.equal(req.headers.accept, "application/json");
        assert.deepEqual(req.form, { grant_type: "client_credentials", client_id: ID, client_secret: SECRET });
      });

      it("authorization_code: default and explicit grantType, exact fields, refresh_token and scope", async () => {
        for (const grantType of [undefined, "authorization_code", null]) {
          mock.reset();
          const code = mock.grantCode(ID, "messenger:read,items:info");
          const res = await app().getAccessTokenAuthorizationCode(ID, SECRET, code, grantType);
          assert.deepEqual(Object.keys(res).sort(), ["access_token", "expires_in", "refresh_token", "scope", "token_type"]);
          assert.equal(res.scope, "messenger:read,items:info");
          assert.deepEqual(mock.requests[0].form, { grant_type: "authorization_code", client_id: ID, client_secret: SECRET, code });
        }
      });

      it("refresh_token: parameter order (clientId, clientSecret, grantType, refreshToken) and rotation", async () => {
        const rt = mock.grantRefresh();
        const api = app();
        const res = await api.refreshAccessTokenAuthorizationCode(ID, SECRET, undefined, rt);
        assert.deepEqual(mock.requests[0].form, { grant_type: "refresh_token", client_id: ID, client_secret: SECRET, refresh_token: rt });
        assert.notEqual(res.refresh_token, rt);
        const again = await api.refreshAccessTokenAuthorizationCode(ID, SECRET, "refresh_token", res.refresh_token);
        assert.ok(again.access_token);
        await rejects(api.refreshAccessTokenAuthorizationCode(ID, SECRET, undefined, rt), "oauth", (e) => {
          assert.equal(e.error, "invalid_grant");
          assert.equal(e.signInRequired, true);
        });
      });

      it("a grantType that does not match the method is refused before sending", async () => {
        await rejects(access().getAccessToken(ID, SECRET, "authorization_code"), "invalid_argument");
        await rejects(app().getAccessTokenAuthorizationCode(ID, SECRET, "c", "refresh_token"), "invalid_argument");
        await rejects(app().refreshAccessTokenAuthorizationCode(ID, SECRET, "client_credentials", "r"), "invalid_argument");
        await rejects(app().refreshAccessTokenAuthorizationCode(ID, SECRET, 5, "r"), "invalid_argument");
        assert.equal(mock.requests.length, 0);
      });

      it("empty or non-string arguments are refused before sending", async () => {
        const bad = ["", undefined, null, 42, {}, [], Symbol("x"), { toString: () => "x" }, "\uD800lone"];
        for (const v of bad) {
          await rejects(access().getAccessToken(v, SECRET), "invalid_argument");
          await rejects(access().getAccessToken(ID, v), "invalid_argument");
          await rejects(app().getAccessTokenAuthorizationCode(ID, SECRET, v), "invalid_argument");
          await rejects(app().refreshAccessTokenAuthorizationCode(ID, SECRET, undefined, v), "invalid_argument");
        }
        assert.equal(mock.requests.length, 0);
      });

      it("defaults: new ApiClient(), new ApplicationAccessApi(), host https://api.avito.ru", async () => {
        assert.equal(new lib.Configuration().host, "https://api.avito.ru");
        const frozen = new lib.Configuration({ host: mock.url });
        assert.throws(() => { "use strict"; frozen.host = "https://elsewhere.example"; }, TypeError);
        assert.equal(frozen.host, mock.url);
        assert.deepEqual(JSON.parse(JSON.stringify(frozen)), { host: mock.url, timeoutMs: 30000 });
        assert.equal(new lib.ApiClient().configuration.host, "https://api.avito.ru");
        assert.ok(new lib.ApplicationAccessApi().apiClient instanceof lib.ApiClient);
        assert.ok(new lib.AccessApi().apiClient instanceof lib.ApiClient);
        const seen = [];
        const fetch = async (url, init) => { seen.push([url, init]); return new Response('{"access_token":"a","expires_in":1,"token_type":"Bearer"}'); };
        await new lib.AccessApi(new lib.ApiClient(new lib.Configuration({ fetch }))).getAccessToken(ID, SECRET);
        assert.equal(seen[0][0], "https://api.avito.ru/token");
        assert.equal(seen[0][1].method, "POST");
      });

      it("a trailing slash on host is harmless", async () => {
        for (const host of [mock.url + "/", mock.url + "//"]) {
          mock.reset();
          await new lib.AccessApi(new lib.ApiClient(new lib.Configuration({ host }))).getAccessToken(ID, SECRET);
          assert.equal(mock.requests[0].url, "/token");
        }
      });

      it("host must be https, or http on loopback only", () => {
        for (const host of ["http://localhost:1234", "http://127.0.0.1", "http://127.8.9.10:80", "http://[::1]:8080", "https://api.avito.ru", "https://proxy.example.com/avito/"]) {
          assert.ok(new lib.Configuration({ host }));
        }
        for (const host of ["http://api.avito.ru", "http://10.0.0.1", "http://192.168.1.2:80", "ftp://x.y", "api.avito.ru", "", "https://", 5, {}, "https://u:p@api.avito.ru", "http://localhost.evil.com", "https://api.avito.ru/?a=1"]) {
          throwsKind(() => new lib.Configuration({ host }), "invalid_argument");
          throwsKind(() => new lib.AvitoAuth({ clientId: ID, clientSecret: SECRET, host }), "invalid_argument");
        }
      });

      it("other bad configuration is refused by the constructor", () => {
        for (const o of [{ fetch: "nope" }, { timeoutMs: 0 }, { timeoutMs: -5 }, { timeoutMs: NaN }, { timeoutMs: "10" }, { retries: "yes" },
          { retries: { maxAttempts: 0 } }, { retries: { maxAttempts: 2.5 } }, { userAgent: "" }, { userAgent: "a\r\nb" }, { headers: "x" },
          { headers: { "bad name": "v" } }, { headers: { "x-a": "v\nInjected: 1" } }, { headers: { "x-a": 5 } }]) {
          throwsKind(() => new lib.Configuration(o), "invalid_argument");
        }
        throwsKind(() => new lib.ApiClient({}), "invalid_argument");
      });

      it("uses the configured fetch instead of the global one", async () => {
        const original = globalThis.fetch;
        globalThis.fetch = () => { throw new Error("global fetch must not be called"); };
        try {
          let calls = 0;
          const fetch = (url, init) => { calls++; return original(url, init); };
          const res = await access({ fetch }).getAccessToken(ID, SECRET);
          assert.ok(res.access_token);
          assert.equal(calls, 1);
        } finally {
          globalThis.fetch = original;
        }
      });

      it("headers may be a Headers, a Map or [name, value] pairs", async () => {
        for (const headers of [new Headers({ "X-Trace": "h" }), new Map([["X-Trace", "m"]]), [["X-Trace", "p"]]]) {
          mock.reset();
          await access({ headers }).getAccessToken(ID, SECRET);
          assert.match(mock.requests[0].headers["x-trace"], /^[hmp]$/);
        }
      });

      it("sends userAgent and extra headers; ours win for Content-Type and Accept", async () => {
        await access({ userAgent: "my-app/1.0", headers: { "X-Trace": "t1", "Content-Type": "text/plain", Accept: "text/html" } }).getAccessToken(ID, SECRET);
        const h = mock.requests[0].headers;
        assert.equal(h["user-agent"], "my-app/1.0");
        assert.equal(h["x-trace"], "t1");
        assert.equal(h["content-type"], "application/x-www-form-urlencoded");
        assert.equal(h.accept, "application/json");
      });

      it("percent-encodes losslessly: Unicode, &, =, +, spaces", async () => {
        const weird = "Ключ & = + пробел 😀 %20 a+b=c&d \t~*'()!";
        const fetchSeen = [];
        const res = await access({ retries: false }).getAccessToken(weird, weird).catch((e) => e);
        assert.equal(res.kind, "oauth"); // unknown client, but the server decoded exactly what we sent:
        assert.equal(mock.requests[0].form.client_id, weird);
        assert.equal(mock.requests[0].form.client_secret, weird);
        assert.ok(!mock.requests[0].raw.includes(" "));
        void fetchSeen;
      });

      it("converts a numeric-string expires_in and tolerates unknown fields", async () => {
        mock.script({ json: { access_token: "AT", expires_in: "86400", token_type: "Bearer", user_id: 7, extra: { nested: [1, 2] } } });
        const res = await access().getAccessToken(ID, SECRET);
        assert.equal(res.expires_in, 86400);
        assert.equal(typeof res.expires_in, "number");
        assert.equal(res.access_token, "AT");
        mock.script({ json: { access_token: "AT2", expires_in: 3600.5, token_type: "Bearer" } }, { json: { access_token: "AT3", expires_in: "7200" } });
        assert.equal((await access().getAccessToken(ID, SECRET)).expires_in, 3600);
        assert.equal((await access().getAccessToken(ID, SECRET)).expires_in, 7200);
      });
    });

    describe("errors", () => {
      const SECRETS = ["s3cr3t-Client-Secret", "c0de-Value-123", "rt-Refresh-Value-456", "at-Access-Value-789"];
      const [CS, CODE, RT, AT] = SECRETS;

      it("oauth: RFC 6749 body on 400 and on HTTP 200; description and body redacted", async () => {
        for (const status of [400, 401, 200]) {
          mock.script({ status, json: { error: "invalid_grant", error_description: `code ${CODE} expired for secret ${CS}` } });
          const err = await rejects(app().getAccessTokenAuthorizationCode(ID, CS, CODE), "oauth", (e) => {
            assert.equal(e.status, status);
            assert.equal(e.error, "invalid_grant");
            assert.equal(e.retryable, false);
            assert.match(e.errorDescription, /expired/);
          });
          assertNoSecrets(err, SECRETS);
        }
      });

      it("http: 429/5xx even with an error, Avito-shaped bodies, HTML from a proxy", async () => {
        const cases = [
          [{ status: 429, json: { error: "rate_limited" }, headers: { "retry-after": "7" } }, (e) => { assert.equal(e.status, 429); assert.equal(e.error, "rate_limited"); assert.equal(e.retryAfterMs, 7000); assert.equal(e.retryable, true); }],
          [{ status: 500, json: { error: "server_error" } }, (e) => { assert.equal(e.status, 500); assert.equal(e.retryable, true); }],
          [{ status: 403, json: { error: { code: 403, message: "Forbidden" } } }, (e) => { assert.equal(e.status, 403); assert.equal(e.errorDescription, "Forbidden"); assert.equal(e.error, undefined); assert.equal(e.retryable, false); }],
          [{ status: 502, body: "<html><body><h1>502 Bad Gateway</h1></body></html>" }, (e) => { assert.equal(e.status, 502); assert.match(e.body, /Bad Gateway/); }],
          [{ status: 404, body: "" }, (e) => assert.equal(e.status, 404)],
        ];
        for (const [step, check] of cases) {
          mock.script(step);
          const err = await rejects(access({ retries: false }).getAccessToken(ID, CS), "http", check);
          assertNoSecrets(err, SECRETS);
        }
      });

      it("invalid_response: empty, truncated, array, wrong types, HTML, over 1 MiB", async () => {
        const bodies = [
          { body: "" }, { body: '{"access_token":"' + AT }, { json: [] }, { json: "token" }, { json: { access_token: "" } },
          { json: { access_token: 12345 } }, { json: { token_type: "Bearer" } }, { json: { access_token: AT, expires_in: "soon" } },
          { json: { access_token: AT, expires_in: true } }, { json: { access_token: AT, refresh_token: 5 } },
          { body: "<!doctype html><title>Login</title>" }, { json: { access_token: AT, pad: "x".repeat(1024 * 1024) } },
          { json: { error: { code: 403, message: "Forbidden" } } },
        ];
        for (const step of bodies) {
          mock.script({ status: 200, ...step });
          const err = await rejects(access().getAccessToken(ID, CS), "invalid_response", (e) => assert.equal(e.status, 200));
          assertNoSecrets(err, SECRETS);
          assert.ok((err.body ?? "").length <= 2100, "body is truncated");
        }
      });

      it("network: connection refused", async () => {
        const port = await closedPort();
        const a = new lib.AvitoAuth({ clientId: ID, clientSecret: CS, host: `http://127.0.0.1:${port}`, retries: false });
        const err = await rejects(a.exchangeCode(CODE), "network", (e) => assert.equal(e.status, undefined));
        assertNoSecrets(err, SECRETS);
      });

      it("network: connection reset", async () => {
        mock.script({ reset: true });
        await rejects(access({ retries: false }).getAccessToken(ID, CS), "network");
        mock.script({ status: 200, resetMidBody: true, body: '{"access_token":"xxxxxxxxxxxxxxxx"}' });
        await rejects(access({ retries: false }).getAccessToken(ID, CS), "network");
      });

      it("a custom fetch that throws with a secret in its message does not leak it", async () => {
        const fetch = (url, init) => { throw new Error(`boom ${init.body}`); };
        const err = await rejects(new lib.AvitoAuth({ clientId: ID, clientSecret: CS, host: mock.url, fetch, retries: false }).refresh(RT), "network");
        assertNoSecrets(err, SECRETS);
      });

      it("timeout (default documented as 30 s; here 150 ms)", async () => {
        mock.script({ hang: true });
        const t0 = Date.now();
        const err = await rejects(app({ timeoutMs: 150, retries: false }).getAccessTokenAuthorizationCode(ID, CS, CODE), "timeout");
        assert.ok(Date.now() - t0 < 5000);
        assertNoSecrets(err, SECRETS);
        assert.equal(new lib.Configuration().timeoutMs, 30000);
      });

      it("timeout also applies to a custom fetch that ignores the signal", async () => {
        const fetch = () => new Promise(() => {});
        await rejects(access({ fetch, timeoutMs: 100, retries: false }).getAccessToken(ID, CS), "timeout");
      });

      it("aborted: the caller's AbortSignal, before and during the request", async () => {
        const a = auth();
        const ac = new AbortController();
        ac.abort();
        await rejects(a.clientCredentials({ signal: ac.signal }), "aborted");
        assert.equal(mock.requests.length, 0);
        const ac2 = new AbortController();
        mock.script({ delayMs: 2000, json: { access_token: "late" } });
        setTimeout(() => ac2.abort(), 50);
        const t0 = Date.now();
        await rejects(a.clientCredentials({ signal: ac2.signal }), "aborted");
        assert.ok(Date.now() - t0 < 1500);
        await rejects(a.clientCredentials({ signal: "nope" }), "invalid_argument");
        await rejects(app().getAccessTokenAuthorizationCode(ID, SECRET, "c", undefined, { signal: ac.signal }), "aborted");
      });

      it("abort during a retry delay stops at once", async () => {
        const ac = new AbortController();
        mock.script({ status: 503, body: "busy", headers: { "retry-after": "5" } });
        setTimeout(() => ac.abort(), 100);
        const t0 = Date.now();
        await rejects(auth().clientCredentials({ signal: ac.signal }), "aborted");
        assert.ok(Date.now() - t0 < 2000);
      });

      it("the same instance keeps working after every kind of error", async () => {
        const a = auth({ timeoutMs: 200, retries: false });
        mock.script({ status: 400, json: { error: "invalid_grant" } }, { status: 500, body: "x" }, { status: 200, body: "<html>" }, { reset: true }, { hang: true });
        for (const kind of ["oauth", "http", "invalid_response", "network", "timeout"]) await rejects(a.clientCredentials(), kind);
        await rejects(a.exchangeCode(""), "invalid_argument");
        const ac = new AbortController(); ac.abort();
        await rejects(a.refresh("x", { signal: ac.signal }), "aborted");
        const ok = await a.clientCredentials();
        assert.ok(ok.access_token);
        const seed = access({ fetch: async () => { throw new TypeError("x"); }, retries: false });
        await rejects(seed.getAccessToken(ID, SECRET), "network");
        assert.ok((await access().getAccessToken(ID, SECRET)).access_token);
      });

      it("hostile values never crash the instance (no reachable panic)", async () => {
        const a = auth({ retries: false });
        const hostile = [Object.create(null), new Proxy({}, { get() { throw new Error("trap"); } }), "x".repeat(2_000_000), 1n, () => {}, new String("boxed")];
        for (const v of hostile) {
          await a.exchangeCode(v).catch((e) => assert.ok(e instanceof lib.ApiException || e instanceof Error));
          await a.refresh("r", v).catch((e) => assert.ok(e instanceof Error));
        }
        for (const r of [undefined, null, 5, "str", { status: "x" }, { status: 200 }, { status: 200, text: () => 5 }, { status: 200, text: () => Promise.reject(new Error("x")), headers: null }]) {
          await rejects(access({ fetch: async () => r, retries: false }).getAccessToken(ID, SECRET), r && r.status === 200 && r.text && r.headers === null ? "network" : "invalid_response");
        }
        assert.ok((await a.clientCredentials()).access_token);
      });

      it("an undeclared (chunked) body over 1 MiB is invalid_response, and the instance lives on", async () => {
        const a = auth({ retries: false });
        const big = JSON.stringify({ access_token: AT, pad: "y".repeat(2 * 1024 * 1024) });
        const fetch = async () => new Response(new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode(big)); c.close(); } }), { status: 200 });
        const err = await rejects(new lib.AvitoAuth({ clientId: ID, clientSecret: CS, host: mock.url, fetch, retries: false }).clientCredentials(), "invalid_response");
        assertNoSecrets(err, SECRETS);
        const huge500 = async () => new Response("<html>" + "z".repeat(3 * 1024 * 1024), { status: 500 });
        await rejects(new lib.AvitoAuth({ clientId: ID, clientSecret: CS, host: mock.url, fetch: huge500, retries: false }).clientCredentials(), "http");
        assert.ok((await a.clientCredentials()).access_token);
      });

      it("oversized arguments are refused before crossing into wasm", async () => {
        const long = "k".repeat(70_000);
        await rejects(auth().exchangeCode(long), "invalid_argument");
        await rejects(access().getAccessToken(long, SECRET), "invalid_argument");
        throwsKind(() => new lib.AvitoAuth({ clientId: ID, clientSecret: long }), "invalid_argument");
        throwsKind(() => new lib.Configuration({ host: `https://${long}.example` }), "invalid_argument");
        throwsKind(() => new lib.Configuration({ headers: { "x-big": long } }), "invalid_argument");
        throwsKind(() => auth().authorizationUrl({ scope: [long] }), "invalid_argument");
        assert.equal(mock.requests.length, 0);
        assert.ok((await auth().clientCredentials()).access_token);
      });

      it("ApiException can be constructed and serialised by users", () => {
        const e = new lib.ApiException("http", "boom", { status: 500, retryable: true });
        assert.ok(e instanceof Error);
        assert.equal(e.status, 500);
        assert.deepEqual(JSON.parse(JSON.stringify(e)).kind, "http");
      });
    });

    describe("retries", () => {
      const fast = { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 1000 };

      it("client_credentials retries 5xx, resets and timeouts", async () => {
        mock.script({ status: 500, body: "x" }, { status: 502, body: "x" });
        assert.ok((await access({ retries: fast }).getAccessToken(ID, SECRET)).access_token);
        assert.equal(mock.requests.length, 3);
        mock.reset();
        mock.script({ reset: true });
        assert.ok((await auth({ retries: fast }).clientCredentials()).access_token);
        assert.equal(mock.requests.length, 2);
        mock.reset();
        mock.script({ hang: true });
        assert.ok((await auth({ retries: fast, timeoutMs: 150 }).clientCredentials()).access_token);
        assert.equal(mock.requests.length, 2);
      });

      it("authorization code and refresh token are never re-sent after 500, reset or timeout", async () => {
        for (const step of [{ status: 500, body: "x" }, { status: 502, body: "x" }, { reset: true }, { hang: true }]) {
          mock.reset();
          mock.script(step);
          const code = mock.grantCode();
          const err = await app({ retries: fast, timeoutMs: 150 }).getAccessTokenAuthorizationCode(ID, SECRET, code).catch((e) => e);
          assert.ok(err instanceof lib.ApiException);
          assert.equal(err.retryable, false);
          assert.equal(mock.requests.length, 1, JSON.stringify(step));
          mock.reset();
          mock.script(step);
          await auth({ retries: fast, timeoutMs: 150 }).refresh(mock.grantRefresh()).catch((e) => e);
          assert.equal(mock.requests.length, 1);
        }
      });

      it("429 and 503 are retried for every grant, honouring Retry-After", async () => {
        mock.script({ status: 429, json: { error: "slow_down" }, headers: { "retry-after": "1" } });
        const t0 = Date.now();
        const code = mock.grantCode();
        const res = await auth({ retries: fast }).exchangeCode(code);
        assert.ok(res.refresh_token);
        assert.ok(Date.now() - t0 >= 950, "waited for Retry-After");
        assert.equal(mock.requests.length, 2);
        mock.reset();
        mock.script({ status: 503, body: "busy" });
        assert.ok((await auth({ retries: fast }).refresh(mock.grantRefresh())).access_token);
        assert.equal(mock.requests.length, 2);
      });

      it("connection refused is retried even for a code (nothing was sent)", async () => {
        const port = await closedPort();
        let calls = 0;
        const fetch = (url, init) => (++calls === 1 ? globalThis.fetch(`http://127.0.0.1:${port}/token`, init) : globalThis.fetch(url, init));
        const res = await auth({ retries: fast, fetch }).exchangeCode(mock.grantCode());
        assert.ok(res.access_token);
        assert.equal(calls, 2);
      });

      it("a Retry-After longer than maxDelayMs ends the retries", async () => {
        mock.script({ status: 429, body: "", headers: { "retry-after": "120" } });
        const err = await access({ retries: fast }).getAccessToken(ID, SECRET).catch((e) => e);
        assert.equal(err.retryAfterMs, 120000);
        assert.equal(mock.requests.length, 1);
      });

      it("retries: false and maxAttempts are respected; default is 3 attempts", async () => {
        mock.script({ status: 500, body: "x" });
        await access({ retries: false }).getAccessToken(ID, SECRET).catch(() => {});
        assert.equal(mock.requests.length, 1);
        mock.reset();
        mock.script(...Array(5).fill({ status: 500, body: "x" }));
        await access({ retries: { maxAttempts: 5, baseDelayMs: 1 } }).getAccessToken(ID, SECRET).catch(() => {});
        assert.equal(mock.requests.length, 5);
        mock.reset();
        mock.script(...Array(5).fill({ status: 503, body: "x", headers: { "retry-after": "0" } }));
        await access().getAccessToken(ID, SECRET).catch(() => {});
        assert.equal(mock.requests.length, 3);
      });
    });

    describe("AvitoAuth", () => {
      it("authorizationUrl: response_type, client_id, comma-joined scope, random state", () => {
        const a = auth();
        const { url, state } = a.authorizationUrl({ scope: ["messenger:read", "items:info"] });
        assert.ok(url.startsWith("https://avito.ru/oauth?response_type=code&pro_users_flow=true&client_id=demo-client&scope=messenger:read,items:info&state="), url);
        assert.match(state, /^[A-Za-z0-9_-]{22,}$/);
        // Byte for byte the form in Avito's documentation.
        assert.equal(
          a.authorizationUrl({ scope: ["messenger:read", "messenger:write"], state: "STATE" }).url,
          "https://avito.ru/oauth?response_type=code&pro_users_flow=true&client_id=demo-client&scope=messenger:read,messenger:write&state=STATE",
        );
        assert.ok(Buffer.from(state, "base64url").length >= 16);
        assert.equal(new URL(url).searchParams.get("state"), state);
        assert.notEqual(a.authorizationUrl({ scope: "a" }).state, state);
        const withAll = a.authorizationUrl({ scope: "a,b", state: "my state&x", redirectUri: "https://app.example/cb?x=1" });
        const p = new URL(withAll.url).searchParams;
        assert.equal(withAll.state, "my state&x");
        assert.equal(p.get("state"), "my state&x");
        assert.equal(p.get("redirect_uri"), "https://app.example/cb?x=1");
        assert.equal(p.get("scope"), "a,b");
        const custom = auth({ authorizeUrl: "http://127.0.0.1:9/oauth" }).authorizationUrl({ scope: ["x"] });
        assert.ok(custom.url.startsWith("http://127.0.0.1:9/oauth?"));
        for (const scope of [undefined, "", [], [""], [1], 5]) throwsKind(() => a.authorizationUrl({ scope }), "invalid_argument");
        throwsKind(() => auth({ authorizeUrl: "http://avito.ru/oauth" }), "invalid_argument");
      });

      it("parseCallback: code and state, state mismatch, error, missing code", () => {
        const a = auth();
        assert.deepEqual(a.parseCallback("https://app.example/cb?code=C1&state=S1", "S1"), { code: "C1", state: "S1" });
        assert.deepEqual(lib.parseCallback(new URL("https://app.example/cb?code=C%202&state=S"), "S"), { code: "C 2", state: "S" });
        assert.deepEqual(lib.parseCallback("?code=C3&state=S", "S"), { code: "C3", state: "S" });
        assert.equal(throwsKind(() => a.parseCallback("https://app.example/cb?code=C1&state=EVIL", "S1"), "invalid_argument").error, "state_mismatch");
        const denied = throwsKind(() => a.parseCallback("/cb?error=access_denied&error_description=no&state=S", "S"), "oauth");
        assert.equal(denied.error, "access_denied");
        assert.equal(denied.errorDescription, "no");
        assert.equal(throwsKind(() => a.parseCallback("/cb?state=S", "S"), "invalid_argument").error, "missing_code");
        throwsKind(() => a.parseCallback("http://[bad", "S"), "invalid_argument");
        throwsKind(() => a.parseCallback(42, "S"), "invalid_argument");
        throwsKind(() => a.parseCallback("/cb?code=C&state=S"), "invalid_argument");
        const mismatch = throwsKind(() => a.parseCallback("/cb?code=SECRETCODE&state=x", "S"), "invalid_argument");
        assert.ok(!everyRendering(mismatch).includes("SECRETCODE"));
      });

      it("exchangeCode → TokenSet with expires_at; redirectUri is sent", async () => {
        const a = auth();
        const t0 = Date.now();
        const ts = await a.exchangeCode(mock.grantCode(), { redirectUri: "https://app.example/cb" });
        assert.equal(mock.requests[0].form.redirect_uri, "https://app.example/cb");
        assert.ok(ts.expires_at >= t0 + 86400_000 && ts.expires_at <= Date.now() + 86400_000);
        assert.ok(ts.refresh_token && ts.scope && ts.token_type === "Bearer");
        assert.deepEqual(ts.scopes, ts.scope.split(","));
        assert.equal(Object.getPrototypeOf(ts), Object.prototype);
      });

      it("refresh rotates the refresh token; clientCredentials works", async () => {
        const a = auth();
        const first = await a.exchangeCode(mock.grantCode());
        const second = await a.refresh(first.refresh_token);
        assert.notEqual(second.refresh_token, first.refresh_token);
        assert.ok(second.expires_at);
        await rejects(a.refresh(first.refresh_token), "oauth", (e) => assert.equal(e.signInRequired, true));
        const cc = await a.clientCredentials();
        assert.ok(cc.access_token && cc.expires_at && !cc.refresh_token);
        assert.deepEqual(cc.scopes, []);
      });

      it("the client secret is not reachable by JSON.stringify or util.inspect", () => {
        const a = new lib.AvitoAuth({ clientId: ID, clientSecret: "TOP-SECRET-VALUE", host: mock.url });
        for (const s of [JSON.stringify(a), inspect(a, { showHidden: true, depth: 9 }), String(a), Object.keys(a).join(), JSON.stringify(Object.entries(a))]) {
          assert.ok(!s.includes("TOP-SECRET-VALUE"), s);
        }
        assert.equal(a.clientId, ID);
      });

      it("bad constructor options throw invalid_argument", () => {
        for (const o of [undefined, null, {}, { clientId: ID }, { clientSecret: SECRET }, { clientId: "", clientSecret: SECRET }, { clientId: ID, clientSecret: 5 }]) {
          throwsKind(() => new lib.AvitoAuth(o), "invalid_argument");
        }
      });
    });
  });
}
