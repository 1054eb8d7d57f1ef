// "Sign in with Avito" — the whole authorization-code flow on the server side, written against
// web-standard Request/Response so the same code runs as a Node backend (server.mjs) and as a
// Cloudflare Worker (worker.mjs). The client secret and the tokens stay here: the browser only
// gets an HttpOnly session cookie and a page with masked values.
// Hardened as a site on the Internet is:
// - a malformed cookie, Host or body is a 400 (a body over MAX_BODY_BYTES a 413), never a crash;
// - served over https, the cookies are `Secure` with `__Host-` names (no Domain, Path=/: no
//   subdomain or plain-http page can set or read them); over http (local development) they are
//   plain `sid` / `oauth_state`;
// - "Refresh tokens" clicked twice: the second request joins the refresh already running for the
//   session instead of presenting the same refresh token again. Avito rotates it: a second
//   presentation would be refused (invalid_grant) and sign the user out.
import { AvitoAuth, ApiException, randomState } from "avito-auth";

const SCOPE = ["messenger:read", "items:info"];
export const MAX_BODY_BYTES = 64 * 1024;
const mask = (t) => (t ? `${t.slice(0, 5)}…${t.slice(-3)} (${t.length} chars)` : "—");
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A request the demo refuses before handling it: 400 (or `status`), with a short reason. */
export class BadRequest extends Error {
  constructor(message, status = 400) {
    super(message);
    this.status = status;
  }
}
export const refusal = (e) => new Response(`${e.message}\n`, { status: e.status, headers: { "content-type": "text/plain; charset=utf-8", connection: "close" } });

function cookies(request) {
  const jar = {};
  for (const pair of (request.headers.get("cookie") ?? "").split(/;\s*/)) {
    const i = pair.indexOf("=");
    if (i <= 0) continue; // a nameless or valueless crumb: not one of ours
    try {
      jar[pair.slice(0, i)] = decodeURIComponent(pair.slice(i + 1));
    } catch {
      throw new BadRequest("malformed cookie");
    }
  }
  return jar;
}

/** The cookies' names and attributes for the request's scheme. */
function cookieNames(url) {
  return url.protocol === "https:"
    ? { sid: "__Host-sid", state: "__Host-oauth_state", attributes: "; Path=/; Secure; HttpOnly; SameSite=Lax" }
    : { sid: "sid", state: "oauth_state", attributes: "; Path=/; HttpOnly; SameSite=Lax" };
}

function page(title, body) {
  return new Response(`<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${esc(title)}</title>
<style>
  body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2.5rem auto;padding:0 1rem;color:#1a1a1a}
  h1{font-size:1.6rem} .btn{display:inline-block;background:#00aaff;color:#fff;border:0;border-radius:.4rem;padding:.6rem 1.1rem;font-size:1rem;text-decoration:none;cursor:pointer}
  .btn.secondary{background:#e8e8e8;color:#1a1a1a} dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem} dt{color:#666}
  code{background:#f3f3f3;padding:.1rem .3rem;border-radius:.2rem} .err{background:#fff0f0;border:1px solid #f5b5b5;padding:1rem;border-radius:.4rem}
  .note{color:#666;font-size:.9rem}
</style>
<body>${body}</body></html>`, { headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}

const redirect = (location, extraHeaders = {}) => new Response(null, { status: 302, headers: { location, ...extraHeaders } });

/**
 * @param {{ clientId: string, clientSecret: string, host?: string, authorizeUrl?: string, mode: string }} options
 */
export function createApp({ clientId, clientSecret, host, authorizeUrl, mode }) {
  const auth = new AvitoAuth({ clientId, clientSecret, host, authorizeUrl });
  const sessions = new Map(); // session id → { tokens, refreshes }

  function tokenView(s) {
    const t = s.tokens;
    return `<h1>Signed in with Avito</h1>
<dl id="tokens">
  <dt>token type</dt><dd id="token-type">${esc(t.token_type ?? "—")}</dd>
  <dt>scope</dt><dd id="scope">${esc(t.scope ?? "—")}</dd>
  <dt>expires</dt><dd id="expires">${t.expires_at ? esc(new Date(t.expires_at).toISOString()) : "—"} <span class="note">(in ${Math.round((t.expires_in ?? 0) / 3600)} h)</span></dd>
  <dt>access token</dt><dd><code id="access">${esc(mask(t.access_token))}</code></dd>
  <dt>refresh token</dt><dd><code id="refresh-token">${esc(mask(t.refresh_token))}</code></dd>
  <dt>refreshes</dt><dd id="refreshes">${s.refreshes}</dd>
</dl>
<form method="post" action="/refresh" style="display:inline"><button class="btn" id="refresh">Refresh tokens</button></form>
<form method="post" action="/logout" style="display:inline"><button class="btn secondary" id="logout">Sign out</button></form>
<p class="note">Refreshing rotates the refresh token: Avito returns a new one and the old one is spent. The tokens and the client secret stay on the server; this page only shows masked values.</p>`;
  }

  function errorView(e) {
    const kind = e instanceof ApiException ? e.kind : "unexpected";
    return page("Sign-in failed", `<h1>Sign-in failed</h1><div class="err" id="error"><b>${esc(kind)}</b>${e.error ? ` <code>${esc(e.error)}</code>` : ""}<br>${esc(e.message)}</div>
<p><a class="btn" href="/login">Try again</a></p>`);
  }

  /** The session's refresh, shared by every request that asks while it runs. */
  function refreshSession(session) {
    session.refreshing ??= auth.refresh(session.tokens.refresh_token)
      .then((tokens) => {
        session.tokens = tokens; // store the NEW refresh token
        session.refreshes++;
      })
      .finally(() => { session.refreshing = undefined; });
    return session.refreshing;
  }

  return async function handle(request) {
    let url, jar, names;
    try {
      url = new URL(request.url);
      names = cookieNames(url);
      jar = cookies(request);
      const length = request.headers.get("content-length");
      if (length !== null && !/^\d{1,16}$/.test(length)) throw new BadRequest("malformed content-length");
      if (Number(length) > MAX_BODY_BYTES) throw new BadRequest(`request body over ${MAX_BODY_BYTES} bytes`, 413);
    } catch (e) {
      if (e instanceof BadRequest) return refusal(e);
      throw e;
    }
    const sid = jar[names.sid];
    const session = sessions.get(sid);
    const redirectUri = `${url.origin}/callback`;
    try {
      if (url.pathname === "/" && request.method === "GET") {
        if (session) return page("Signed in — avito-auth demo", tokenView(session));
        return page("avito-auth demo", `<h1>avito-auth demo</h1>
<p>Sign in to see the authorization-code flow of <code>avito-auth</code> end to end: the authorization URL, the consent page, the callback with its <code>state</code> check, the code exchange and refresh-token rotation.</p>
<p><a class="btn" id="signin" href="/login">Sign in with Avito</a></p>
<p class="note">Mode: ${esc(mode)}.</p>`);
      }
      if (url.pathname === "/login") {
        const { url: target, state } = auth.authorizationUrl({ scope: SCOPE, redirectUri });
        return redirect(target, { "set-cookie": `${names.state}=${encodeURIComponent(state)}${names.attributes}; Max-Age=600` });
      }
      if (url.pathname === "/callback") {
        if (!jar[names.state]) {
          throw new ApiException("invalid_argument", "no sign-in is in progress in this browser (the state cookie is missing or expired): start again", { error: "state_mismatch" });
        }
        const { code } = auth.parseCallback(url, jar[names.state]);
        const tokens = await auth.exchangeCode(code, { redirectUri });
        const newSid = randomState(); // 256 random bits, URL-safe: a fine session id too
        sessions.set(newSid, { tokens, refreshes: 0 });
        const headers = new Headers({ location: "/" });
        headers.append("set-cookie", `${names.sid}=${newSid}${names.attributes}`);
        headers.append("set-cookie", `${names.state}=${names.attributes}; Max-Age=0`);
        return new Response(null, { status: 302, headers });
      }
      if (url.pathname === "/refresh" && request.method === "POST") {
        if (!session) return redirect("/");
        await refreshSession(session);
        return redirect("/");
      }
      if (url.pathname === "/logout" && request.method === "POST") {
        sessions.delete(sid);
        return redirect("/", { "set-cookie": `${names.sid}=${names.attributes}; Max-Age=0` });
      }
      return new Response("not found", { status: 404 });
    } catch (e) {
      if (e instanceof ApiException && e.signInRequired && session) sessions.delete(sid);
      return errorView(e);
    }
  };
}
