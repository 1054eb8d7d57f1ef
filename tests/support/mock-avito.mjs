// A local stand-in for Avito's authorization API on 127.0.0.1, used by the tests, the demo and
// the benchmarks. It behaves like Avito (grants, rotating refresh tokens, 403 for expired
// access tokens, a consent page) and can be scripted to misbehave:
//   POST /__script  [{ status, headers, body, json, delayMs, reset, hang }]  → answered in order
//   GET  /__requests → every /token request seen (method, headers, form fields)
//   POST /__reset    → forget requests, scripts and issued tokens
//   POST /__expire   → expire every issued access token
// `mock.apiScopes` ({ "/core/v1/accounts/self": "user:read" }) makes the API paths named there
// answer 403, as Avito does, to a token whose grant lacks that scope.
// As a program: `node tests/support/mock-avito.mjs [port]` prints its URL.
import http from "node:http";
import { randomBytes } from "node:crypto";

// Browsers in the tests call the mock from another origin.
const CORS = { "access-control-allow-origin": "*", "access-control-expose-headers": "retry-after", "access-control-allow-headers": "*" };
const json = (res, status, obj, headers = {}) => {
  const body = JSON.stringify(obj);
  res.writeHead(status, { ...CORS, "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
};
const token = (prefix) => `${prefix}_${randomBytes(18).toString("base64url")}`;
const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function startMockAvito({ port = 0, clients = { "demo-client": "demo-secret" }, expiresIn = 86400, log = false } = {}) {
  // `issued`: every access and refresh token ever issued (the refresh map forgets spent ones), for
  // the dump sweeps of the sealed stores (tests/support/seal.mjs).
  const state = { requests: [], script: [], codes: new Map(), refresh: new Map(), access: new Map(), issued: [] };
  const counts = { token: 0, refresh: 0, code: 0, client_credentials: 0 };

  const issue = (clientId, scope, withRefresh) => {
    const access_token = token("at");
    state.issued.push(access_token);
    state.access.set(access_token, { clientId, scope, expiresAt: Date.now() + expiresIn * 1000 });
    const out = { access_token, expires_in: expiresIn, token_type: "Bearer" };
    if (withRefresh) {
      const refresh_token = token("rt");
      state.issued.push(refresh_token);
      state.refresh.set(refresh_token, { clientId, scope });
      Object.assign(out, { refresh_token, scope });
    }
    return out;
  };

  async function handleToken(req, res, raw) {
    const form = Object.fromEntries(new URLSearchParams(raw));
    state.requests.push({ method: req.method, url: req.url, headers: req.headers, form, raw, at: Date.now() });
    counts.token++;
    const counter = { authorization_code: "code", refresh_token: "refresh", client_credentials: "client_credentials" }[form.grant_type];
    if (counter) counts[counter]++;
    if (state.script.length) {
      const step = state.script.shift();
      if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
      if (step.hang) return; // never answer
      if (step.reset) return req.socket.destroy();
      const body = step.json !== undefined ? JSON.stringify(step.json) : step.body ?? "";
      res.writeHead(step.status ?? 200, { ...CORS, "content-type": step.json !== undefined ? "application/json" : "text/html", ...step.headers });
      if (step.resetMidBody) { res.write(body.slice(0, 5)); return setTimeout(() => req.socket.destroy(), 20); }
      return res.end(body);
    }
    if (mock.tokenDelayMs) await new Promise((r) => setTimeout(r, mock.tokenDelayMs));
    if (mock.tokenGate) await mock.tokenGate;
    if (req.method !== "POST") return json(res, 405, { error: "invalid_request" });
    if (!String(req.headers["content-type"]).startsWith("application/x-www-form-urlencoded")) return json(res, 400, { error: "invalid_request", error_description: "form body expected" });
    if (!form.client_id || clients[form.client_id] !== form.client_secret) return json(res, 401, { error: "invalid_client", error_description: "unknown client or wrong secret" });
    switch (form.grant_type) {
      case "client_credentials":
        return json(res, 200, issue(form.client_id, undefined, false));
      case "authorization_code": {
        const c = state.codes.get(form.code);
        state.codes.delete(form.code);
        if (!c || c.clientId !== form.client_id || c.expiresAt < Date.now()) return json(res, 400, { error: "invalid_grant", error_description: "code is invalid or expired" });
        return json(res, 200, issue(form.client_id, c.scope, true));
      }
      case "refresh_token": {
        const r = state.refresh.get(form.refresh_token);
        state.refresh.delete(form.refresh_token); // rotation: the old refresh token is spent
        if (!r || r.clientId !== form.client_id) return json(res, 400, { error: "invalid_grant", error_description: "refresh token is invalid or spent" });
        return json(res, 200, issue(form.client_id, r.scope, true));
      }
      default:
        return json(res, 400, { error: "unsupported_grant_type" });
    }
  }

  function consentPage(url, res) {
    const p = url.searchParams;
    const clientId = p.get("client_id"), redirect = p.get("redirect_uri") || mock.defaultRedirect, st = p.get("state") ?? "";
    if (url.pathname === "/oauth/decide") {
      const target = new URL(redirect);
      if (p.get("allow") === "1") {
        const code = token("code");
        state.codes.set(code, { clientId, scope: p.get("scope") ?? "", expiresAt: Date.now() + 600_000 });
        target.searchParams.set("code", code);
      } else {
        target.searchParams.set("error", "access_denied");
        target.searchParams.set("error_description", "the user declined");
      }
      target.searchParams.set("state", st);
      res.writeHead(302, { location: target.toString() });
      return res.end();
    }
    const hidden = ["client_id", "scope", "state", "redirect_uri"].map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(p.get(k) ?? "")}">`).join("");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><meta charset="utf-8"><title>Avito (mock) — consent</title>
<style>body{font:16px system-ui;max-width:32rem;margin:3rem auto}button{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}</style>
<h1>Avito (local mock)</h1><p>The application <b id="client">${escapeHtml(clientId)}</b> asks for: <code id="scope">${escapeHtml(p.get("scope"))}</code></p>
<form action="/oauth/decide">${hidden}<button id="allow" name="allow" value="1">Allow</button><button id="deny" name="allow" value="0">Deny</button></form>`);
  }

  function api(req, res, path) {
    mock.apiCalls++;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    const t = m && state.access.get(m[1]);
    if (!t || t.expiresAt < Date.now()) return json(res, 403, { error: { code: 403, message: "Forbidden" } });
    const needed = mock.apiScopes[path];
    if (needed && !String(t.scope ?? "").split(",").includes(needed)) return json(res, 403, { error: { code: 403, message: `Forbidden: no ${needed}` } }, { "x-mock-scope": needed });
    return json(res, 200, { id: 1, client_id: t.clientId, name: "Mock account" });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      if (log) console.error(`[mock-avito] ${req.method} ${url.pathname}`);
      if (req.method === "OPTIONS") { res.writeHead(204, { ...CORS, "access-control-allow-methods": "GET, POST" }); return res.end(); }
      if (url.pathname === "/token") return void handleToken(req, res, raw);
      if (url.pathname === "/oauth" || url.pathname === "/oauth/decide") return consentPage(url, res);
      if (url.pathname.startsWith("/core/") || url.pathname.startsWith("/api/")) return api(req, res, url.pathname);
      if (url.pathname === "/__requests") return json(res, 200, state.requests);
      if (url.pathname === "/__counts") return json(res, 200, counts);
      if (url.pathname === "/__code") return json(res, 200, { code: mock.grantCode(url.searchParams.get("client_id") ?? undefined, url.searchParams.get("scope") ?? undefined) });
      if (url.pathname === "/__refresh") return json(res, 200, { refresh_token: mock.grantRefresh(url.searchParams.get("client_id") ?? undefined) });
      if (url.pathname === "/__script") { state.script.push(...JSON.parse(raw || "[]")); return json(res, 200, { queued: state.script.length }); }
      if (url.pathname === "/__reset") { mock.reset(); return json(res, 200, {}); }
      if (url.pathname === "/__expire") { for (const v of state.access.values()) v.expiresAt = 0; return json(res, 200, {}); }
      json(res, 404, { error: { code: 404, message: "Not found" } });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const mock = {
    url,
    defaultRedirect: `${url}/callback`,
    /** Delay before answering a (non-scripted) /token request, so concurrent renewals overlap. */
    tokenDelayMs: 0,
    /** A promise (non-scripted) /token requests wait for: a test holds a request open until it lets go. */
    tokenGate: undefined,
    /** API path → the scope its calls need (403 without it). */
    apiScopes: {},
    /** API calls answered (any path under /core/ or /api/). */
    apiCalls: 0,
    state,
    counts,
    get requests() { return state.requests; },
    script(...steps) { state.script.push(...steps); },
    /** Issues an authorization code as the consent page would. */
    // The default grant holds user:read: GET /core/v1/accounts/self declares it, and a 403 of an
    // operation whose scope the set lacks is not recovered from (tm.fetch).
    grantCode(clientId = "demo-client", scope = "messenger:read,user:read") {
      const code = token("code");
      state.codes.set(code, { clientId, scope, expiresAt: Date.now() + 600_000 });
      return code;
    },
    /** Issues a refresh token directly. */
    grantRefresh(clientId = "demo-client", scope = "messenger:read,user:read") {
      const rt = token("rt");
      state.issued.push(rt);
      state.refresh.set(rt, { clientId, scope });
      return rt;
    },
    reset() {
      mock.tokenDelayMs = 0;
      mock.tokenGate = undefined;
      mock.apiScopes = {};
      mock.apiCalls = 0;
      state.requests.length = 0; state.script.length = 0; state.issued.length = 0;
      state.codes.clear(); state.refresh.clear(); state.access.clear();
      for (const k of Object.keys(counts)) counts[k] = 0;
    },
    close() { server.closeAllConnections?.(); return new Promise((r) => server.close(r)); },
  };
  return mock;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mock = await startMockAvito({ port: Number(process.argv[2] ?? 0), log: true });
  console.log(mock.url);
}
