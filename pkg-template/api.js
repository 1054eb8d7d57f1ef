// avito-auth public API. Every decision — validation, form encoding, response classification,
// redaction, what a failed fetch means, whether and when to retry — is made by the WebAssembly
// engine; this file holds the public classes and the transport loop that awaits fetch, the body
// and the timers between those decisions. Every runtime entry (node.mjs, node.cjs, workerd.js,
// browser.js, init.js) loads the one shipped .wasm and then calls `ready()`.
import * as wasm from "./avito_auth.js";

const DEFAULT_AUTHORIZE_URL = "https://avito.ru/oauth";
const KINDS = ["oauth", "http", "invalid_response", "network", "timeout", "aborted", "invalid_argument"];
const GRANT = { authorization_code: 0, refresh_token: 1, client_credentials: 2 };

let initialized = false;
let webcrypto = globalThis.crypto;

/** Called by the runtime entry once the wasm instance exists. @internal */
export function ready(cryptoImpl) {
  if (cryptoImpl) webcrypto = cryptoImpl;
  wasm.setFactories(makeException, makeToken);
  initialized = true;
}

function ensureReady() {
  if (!initialized) {
    throw new ApiException("invalid_argument", "avito-auth is not initialised: with the 'avito-auth/init' entry, await init() first");
  }
}

/** The one error type of avito-auth. `kind` tells what happened; no secret is ever in it. */
export class ApiException extends Error {
  constructor(kind, message, fields = {}) {
    super(message || kind);
    this.name = "ApiException";
    this.kind = KINDS.includes(kind) ? kind : "invalid_argument";
    this.status = fields.status;
    this.error = fields.error;
    this.errorDescription = fields.errorDescription;
    this.retryable = fields.retryable === true;
    this.retryAfterMs = fields.retryAfterMs;
    this.body = fields.body;
    // An OAuth "invalid_grant": the code or refresh token is dead; the user must sign in again.
    this.signInRequired = fields.signInRequired === true || (this.kind === "oauth" && this.error === "invalid_grant");
  }
  toJSON() {
    const { name, kind, message, status, error, errorDescription, retryable, retryAfterMs, body, signInRequired } = this;
    return { name, kind, message, status, error, errorDescription, retryable, retryAfterMs, body, signInRequired };
  }
}

function makeException(kind, detail, statusOrNone, error, errorDescription, retryable, retryAfterOrNone, body) {
  const status = statusOrNone >= 0 ? statusOrNone : undefined;
  const retryAfterMs = retryAfterOrNone >= 0 ? retryAfterOrNone : undefined;
  let message = detail;
  if (kind === "oauth") {
    message = `${error ? `"${error}"` : "error"}${errorDescription ? `: ${errorDescription}` : ""}${status !== undefined ? ` (HTTP ${status})` : ""}`;
    message = `the token endpoint refused the request: ${message}`;
  } else if (kind === "http") {
    message = `the token endpoint answered HTTP ${status}${error ? ` "${error}"` : ""}${errorDescription ? `: ${errorDescription}` : ""}`;
  } else if (kind === "invalid_response") {
    message = `invalid token response: ${detail}${status !== undefined ? ` (HTTP ${status})` : ""}${errorDescription ? `: ${errorDescription}` : ""}`;
  }
  return new ApiException(kind, message, { status, error, errorDescription, retryable, retryAfterMs, body });
}

/** The plain result object, built from the fields the engine validated (wire names, fixed order). */
function makeToken(access_token, expires_in, token_type, refresh_token, scope, expires_at) {
  const t = { access_token };
  if (expires_in >= 0) t.expires_in = expires_in;
  if (token_type !== undefined) t.token_type = token_type;
  if (refresh_token !== undefined) t.refresh_token = refresh_token;
  if (scope !== undefined) t.scope = scope;
  if (expires_at >= 0) t.expires_at = expires_at;
  return t;
}

function invalid(message) {
  return new ApiException("invalid_argument", message);
}

function optionsObject(value, what) {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object") throw invalid(`${what} must be an object`);
  return value;
}

const engines = new WeakMap();

/** `headers` (plain object, Headers, Map or pairs) as an array of pairs; the engine checks them. */
function headerPairs(headers) {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== "object") throw invalid("headers must be an object of header names to string values");
  const pairs = typeof headers[Symbol.iterator] === "function" ? Array.from(headers, (p) => (Array.isArray(p) ? [p[0], p[1]] : [])) : Object.entries(headers);
  for (const [name, value] of pairs) {
    wellFormed(name, "a header name");
    wellFormed(value, "a header value");
  }
  return pairs;
}

/** What the engine needs of a rejection: its message (with its cause's) and code, bounded. */
function errorInfo(e) {
  const pick = (o, k) => { try { const v = o?.[k]; return typeof v === "string" ? v.slice(0, 2000) : undefined; } catch { return undefined; } };
  let cause;
  try { cause = e?.cause; } catch { /* a hostile getter */ }
  const message = [pick(e, "message"), pick(cause, "message")].filter(Boolean).join(": ");
  return [message, pick(e, "code") ?? pick(cause, "code")];
}

const MAX_BODY = 1 << 20;

/** A validated configuration (in wasm) plus what every request reuses, read once. */
function engineFrom(o) {
  ensureReady();
  wellFormed(o.host, "host");
  wellFormed(o.userAgent, "userAgent");
  const engine = new wasm.Engine(o.host, o.fetch, o.timeoutMs, o.retries, o.userAgent, headerPairs(o.headers));
  // `fetch` was checked by the engine (a function or absent).
  return { engine, url: engine.tokenUrl, headers: engine.headers, fetch: o.fetch ?? undefined, timeoutMs: engine.timeoutMs, last: null };
}

/**
 * Configuration settings, as in the generated client: host, fetch, timeoutMs, retries,
 * userAgent, headers. Validated once, read-only afterwards (make a new Configuration to change).
 */
export class Configuration {
  constructor(options) {
    engines.set(this, engineFrom(optionsObject(options, "Configuration options")));
  }
  /** The normalised host (no trailing slash). */
  get host() {
    return engines.get(this).url.slice(0, -"/token".length);
  }
  get timeoutMs() {
    return engines.get(this).timeoutMs;
  }
  toJSON() {
    return { host: this.host, timeoutMs: this.timeoutMs };
  }
}

/** Holds a Configuration; `new ApiClient()` uses the defaults. */
export class ApiClient {
  constructor(configuration) {
    if (configuration === undefined || configuration === null) configuration = new Configuration();
    if (!engines.has(configuration)) throw invalid("ApiClient expects a Configuration");
    this.configuration = configuration;
  }
  /** Nothing to release; present for parity with the generated client. */
  close() {}
}

function engineOf(api) {
  return engines.get(api.apiClient.configuration);
}

function clientOf(apiClient) {
  if (apiClient === undefined || apiClient === null) return new ApiClient();
  if (!(apiClient instanceof ApiClient)) throw invalid("expected an ApiClient");
  return apiClient;
}

const str = (v) => (typeof v === "string" ? v : undefined);
/** Longest argument string accepted (ids, secrets, codes, tokens, scopes, URLs). */
const MAX_ARG = 65_536;

/** Resolves after `ms`, or as soon as `signal` (optional) aborts. */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(timer); signal?.removeEventListener("abort", done); resolve(); };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/**
 * One token request: the awaits (fetch, body, timers) happen here; every decision — validation,
 * the form body, what a response or a rejection means, whether and when to retry — is made by
 * the wasm engine between them.
 */
async function request(t, grant, clientId, clientSecret, secret, grantType, redirectUri, options, withExpiry) {
  const { engine, url, headers, timeoutMs } = t;
  const signal = optionsObject(options, "options").signal;
  if (signal !== undefined && signal !== null && (typeof signal !== "object" || typeof signal.addEventListener !== "function")) {
    throw invalid("signal must be an AbortSignal");
  }
  wellFormed(clientId, "clientId");
  wellFormed(clientSecret, "clientSecret");
  wellFormed(secret, grant === GRANT.refresh_token ? "refreshToken" : "code");
  wellFormed(redirectUri, "redirectUri");
  // Strings cross as strings; anything else as "absent" (required → invalid_argument) or, where
  // absence is allowed, as "" (present but not a non-empty string → invalid_argument).
  const gt = grantType === undefined || grantType === null ? undefined : typeof grantType === "string" ? grantType : "";
  const ru = redirectUri === undefined || redirectUri === null ? undefined : typeof redirectUri === "string" ? redirectUri : "";
  // A client_credentials body is a pure function of the client's id and secret: repeated calls
  // (a TokenManager renewing) reuse it instead of crossing into wasm again. (Codes and refresh
  // tokens are single-use: nothing to reuse, and nothing spent is kept.)
  const last = t.last;
  let body;
  if (grant === GRANT.client_credentials && last && last.id === clientId && last.cs === clientSecret && last.gt === gt) {
    body = last.body;
  } else {
    body = engine.body(grant, str(clientId), str(clientSecret), str(secret), gt, ru);
    if (grant === GRANT.client_credentials) t.last = { id: clientId, cs: clientSecret, gt, body };
  }
  const custom = t.fetch;
  const fetchImpl = custom ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw invalid("no global fetch in this runtime: pass Configuration({ fetch })");
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw engine.rejection(grant, "", undefined, true, false, true, clientSecret, secret);
    const controller = new AbortController();
    // The platform's fetch honours the signal; a caller's fetch might not, so its awaits also
    // race a promise that the abort rejects directly.
    let stop;
    const racer = custom && new Promise((_, reject) => (stop = reject));
    racer?.catch(() => {});
    const race = (p) => (racer ? Promise.race([p, racer]) : p);
    const abort = () => { controller.abort(); stop?.(controller.signal.reason); };
    const timer = setTimeout(abort, timeoutMs);
    signal?.addEventListener("abort", abort);
    let outcome, responded = false;
    try {
      const init = { method: "POST", headers, body, signal: controller.signal, redirect: "manual" };
      const res = await race(fetchImpl(url, init));
      responded = true;
      if (res === null || typeof res !== "object" || typeof res.text !== "function" || typeof res.status !== "number") {
        outcome = engine.response(grant, NaN, undefined, undefined, false, withExpiry, clientSecret, secret);
      } else {
        const status = res.status;
        let retryAfter, length;
        try {
          length = res.headers.get("content-length");
          if (status < 200 || status > 299) retryAfter = res.headers.get("retry-after");
        } catch { /* not a Headers: no metadata */ }
        let text, tooLarge = Number(length) > MAX_BODY;
        if (tooLarge) res.body?.cancel?.().catch(() => {});
        else text = await race(res.text());
        // Undeclared but huge (chunked): only its head crosses into wasm, for the error body.
        if (typeof text === "string" && text.length > MAX_BODY) {
          tooLarge = true;
          text = text.slice(0, 16_384);
        }
        outcome = engine.response(grant, status, str(text), str(retryAfter), tooLarge, withExpiry, clientSecret, secret);
      }
    } catch (e) {
      outcome = engine.rejection(grant, ...errorInfo(e), signal?.aborted === true, controller.signal.aborted, !responded, clientSecret, secret);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    }
    if (!(outcome instanceof ApiException)) return outcome;
    if (outcome.kind === "aborted") throw outcome;
    const delay = engine.retryDelay(attempt, outcome.retryable, outcome.retryAfterMs);
    if (delay < 0) throw outcome;
    await sleep(delay, signal);
  }
}

/** authorization_code and refresh_token grants (tokens on behalf of a user). */
export class ApplicationAccessApi {
  constructor(apiClient) {
    this.apiClient = clientOf(apiClient);
  }
  /** @returns {Promise<GetAccessTokenAuthorizationCode200Response>} */
  getAccessTokenAuthorizationCode(clientId, clientSecret, code, grantType, options) {
    return request(engineOf(this), GRANT.authorization_code, clientId, clientSecret, code, grantType, undefined, options, false);
  }
  /** @returns {Promise<RefreshAccessTokenAuthorizationCode200Response>} */
  refreshAccessTokenAuthorizationCode(clientId, clientSecret, grantType, refreshToken, options) {
    return request(engineOf(this), GRANT.refresh_token, clientId, clientSecret, refreshToken, grantType, undefined, options, false);
  }
}

/** client_credentials grant (tokens for the application itself). */
export class AccessApi {
  constructor(apiClient) {
    this.apiClient = clientOf(apiClient);
  }
  /** @returns {Promise<GetAccessToken200Response>} */
  getAccessToken(clientId, clientSecret, grantType, options) {
    return request(engineOf(this), GRANT.client_credentials, clientId, clientSecret, undefined, grantType, undefined, options, false);
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isWellFormed = typeof String.prototype.isWellFormed === "function"
  ? (s) => s.isWellFormed()
  : (s) => !LONE_SURROGATE.test(s);

/**
 * Refuses strings that cannot cross into wasm as they are: unpaired UTF-16 surrogates (encoding
 * would silently change them) and absurd lengths (bounded memory, no failed allocation).
 */
function wellFormed(value, name) {
  if (typeof value !== "string") return;
  if (value.length > MAX_ARG) throw invalid(`${name} is longer than ${MAX_ARG} characters`);
  if (!isWellFormed(value)) throw invalid(`${name} contains unpaired UTF-16 surrogates`);
}

function text(value, name, { optional = false } = {}) {
  if (optional && (value === undefined || value === null)) return undefined;
  if (typeof value !== "string" || value === "") throw invalid(`${name} must be a non-empty string`);
  wellFormed(value, name);
  return value;
}

function base64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A fresh URL-safe random state (256 bits from crypto.getRandomValues). */
export function randomState() {
  if (!webcrypto || typeof webcrypto.getRandomValues !== "function") {
    throw invalid("no crypto.getRandomValues in this runtime: pass an explicit state");
  }
  return base64url(webcrypto.getRandomValues(new Uint8Array(32)));
}

function searchParamsOf(input) {
  if (typeof URL === "function" && input instanceof URL) return input.searchParams;
  if (typeof URLSearchParams === "function" && input instanceof URLSearchParams) return input;
  const href = typeof input === "string" ? input : input && typeof input === "object" && typeof input.url === "string" ? input.url : undefined;
  if (href === undefined) throw invalid("the callback must be a URL, a URL string, URLSearchParams or a Request");
  try {
    return new URL(href, "http://callback.invalid/").searchParams;
  } catch {
    throw invalid("the callback is not a valid URL");
  }
}

/**
 * Reads the authorization callback (`?code=…&state=…` or `?error=…`). Checks `state` against
 * the one you stored when you built the authorization URL; returns `{ code, state }`.
 */
export function parseCallback(input, expectedState) {
  const params = searchParamsOf(input);
  text(expectedState, "expectedState");
  const state = params.get("state");
  if (state !== expectedState) {
    throw new ApiException("invalid_argument", "the callback's state does not match the expected state (possible CSRF): start the sign-in again", { error: "state_mismatch" });
  }
  const error = params.get("error");
  if (error) {
    const errorDescription = params.get("error_description") ?? undefined;
    throw new ApiException("oauth", `the authorization was refused: "${error}"${errorDescription ? `: ${errorDescription}` : ""}`, { error, errorDescription });
  }
  const code = params.get("code");
  if (!code) throw new ApiException("invalid_argument", "the callback has no code", { error: "missing_code" });
  return { code, state };
}

const inspect = Symbol.for("nodejs.util.inspect.custom");

/** The ergonomic client: one object per Avito application (client id and secret). */
export class AvitoAuth {
  #clientSecret;
  #engine;
  #authorizeUrl;
  constructor(options) {
    const o = optionsObject(options, "AvitoAuth options");
    ensureReady();
    const clientId = text(o.clientId, "clientId");
    this.#clientSecret = text(o.clientSecret, "clientSecret");
    this.#engine = engineFrom(o);
    wellFormed(o.authorizeUrl, "authorizeUrl");
    this.#authorizeUrl = o.authorizeUrl === undefined || o.authorizeUrl === null
      ? DEFAULT_AUTHORIZE_URL
      : wasm.normalizeBaseUrl(o.authorizeUrl, "authorizeUrl");
    Object.defineProperty(this, "clientId", { value: clientId, enumerable: true });
  }
  /** `{host}` without `/token`. */
  get host() {
    return this.#engine.url.slice(0, -"/token".length);
  }
  /** Builds the Avito consent URL. Keep the returned `state` (e.g. in a cookie) for the callback. */
  authorizationUrl(options) {
    const o = optionsObject(options, "authorizationUrl options");
    let scope = o.scope;
    if (Array.isArray(scope)) {
      if (scope.length === 0) throw invalid("scope must name at least one scope");
      scope = scope.map((s, i) => text(s, `scope[${i}]`)).join(",");
    }
    scope = text(scope, "scope");
    const state = o.state === undefined || o.state === null ? randomState() : text(o.state, "state");
    const redirectUri = text(o.redirectUri, "redirectUri", { optional: true });
    return { url: wasm.authorizationUrl(this.#authorizeUrl, this.clientId, scope, state, redirectUri), state };
  }
  /** See the exported `parseCallback`. */
  parseCallback(input, expectedState) {
    return parseCallback(input, expectedState);
  }
  /** authorization_code grant → TokenSet (store its refresh_token). */
  async exchangeCode(code, options) {
    const { redirectUri } = optionsObject(options, "options");
    return request(this.#engine, GRANT.authorization_code, this.clientId, this.#clientSecret, code, undefined, redirectUri, options, true);
  }
  /** refresh_token grant → TokenSet with a NEW refresh_token; the old one is spent. */
  refresh(refreshToken, options) {
    return request(this.#engine, GRANT.refresh_token, this.clientId, this.#clientSecret, refreshToken, undefined, undefined, options, true);
  }
  /** client_credentials grant → TokenSet. */
  clientCredentials(options) {
    return request(this.#engine, GRANT.client_credentials, this.clientId, this.#clientSecret, undefined, undefined, undefined, options, true);
  }
  toJSON() {
    return { clientId: this.clientId, clientSecret: "[redacted]", host: this.host };
  }
  [inspect]() {
    return `AvitoAuth { clientId: ${JSON.stringify(this.clientId)}, clientSecret: '[redacted]', host: ${JSON.stringify(this.host)} }`;
  }
}

// ---------------------------------------------------------------------------------------------
// Token lifecycle

/** `promise`, or an `aborted` ApiException as soon as `signal` fires (the promise goes on). */
function abandonable(promise, signal) {
  if (typeof signal.addEventListener !== "function") return Promise.reject(invalid("signal must be an AbortSignal"));
  const aborted = () => new ApiException("aborted", "the caller's AbortSignal fired while waiting for the token");
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener("abort", onAbort);
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

const sameTokens = (a, b) => (a?.access_token ?? null) === (b?.access_token ?? null) && (a?.refresh_token ?? null) === (b?.refresh_token ?? null);

/** The default store: one process. Implements the TokenStore protocol (get, CAS, lease). */
export class MemoryTokenStore {
  #tokens;
  #lease = null;
  constructor(initial) {
    this.#tokens = initial;
  }
  async get() {
    return this.#tokens;
  }
  async compareAndSet(expected, next) {
    if (!sameTokens(this.#tokens, expected)) return false;
    this.#tokens = next;
    return true;
  }
  async acquireLease(ttlMs) {
    const now = Date.now();
    if (this.#lease && this.#lease.until > now) return undefined;
    const id = randomState();
    this.#lease = { id, until: now + ttlMs };
    return id;
  }
  async releaseLease(id) {
    if (this.#lease?.id === id) this.#lease = null;
  }
}

function checkStore(store) {
  for (const m of ["get", "compareAndSet", "acquireLease", "releaseLease"]) {
    if (typeof store?.[m] !== "function") throw invalid(`store must implement ${m}()`);
  }
  return store;
}

/**
 * Keeps a valid access token: renews ahead of expiry, one renewal at a time (in this process
 * through a shared promise, across processes through the store's lease), and hands every
 * rotated TokenSet to the store and to `onTokens`.
 */
export class TokenManager {
  #auth;
  #grant;
  #skew;
  #store;
  #leaseMs;
  #onTokens;
  #fetch;
  #seed;
  #current;
  #inflight = null;
  #invalid = null;
  constructor(options) {
    const o = optionsObject(options, "TokenManager options");
    if (!(o.auth instanceof AvitoAuth)) throw invalid("TokenManager needs auth: an AvitoAuth");
    this.#auth = o.auth;
    if (o.tokens !== undefined && o.tokens !== null) {
      if (typeof o.tokens !== "object" || typeof o.tokens.refresh_token !== "string" || !o.tokens.refresh_token) {
        throw invalid("tokens must be a TokenSet with a refresh_token");
      }
      if (o.grant !== undefined && o.grant !== "refresh_token") throw invalid('with tokens, grant must be "refresh_token" (or omitted)');
      this.#grant = "refresh_token";
      this.#seed = o.tokens;
    } else if (o.grant === undefined || o.grant === "client_credentials") {
      this.#grant = "client_credentials";
    } else if (o.grant === "refresh_token") {
      if (o.store === undefined) throw invalid('grant "refresh_token" needs tokens (or a store that holds them)');
      this.#grant = "refresh_token";
    } else {
      throw invalid('grant must be "client_credentials" or "refresh_token"');
    }
    const skew = o.refreshSkewMs ?? 60_000;
    if (typeof skew !== "number" || !(skew >= 0) || !Number.isFinite(skew)) throw invalid("refreshSkewMs must be a non-negative number");
    this.#skew = skew;
    const leaseMs = o.leaseMs ?? 10_000;
    if (typeof leaseMs !== "number" || !(leaseMs > 0) || !Number.isFinite(leaseMs)) throw invalid("leaseMs must be a positive number");
    this.#leaseMs = leaseMs;
    this.#store = o.store === undefined ? new MemoryTokenStore(this.#seed) : checkStore(o.store);
    if (o.onTokens !== undefined && typeof o.onTokens !== "function") throw invalid("onTokens must be a function");
    this.#onTokens = o.onTokens;
    if (o.fetch !== undefined && typeof o.fetch !== "function") throw invalid("fetch must be a function");
    this.#fetch = o.fetch;
  }

  #fresh(ts) {
    return !!ts && typeof ts.access_token === "string" && ts.access_token !== this.#invalid
      && (typeof ts.expires_at !== "number" || ts.expires_at - this.#skew > Date.now());
  }

  /**
   * A valid access token. Concurrent callers share one renewal; each caller's `signal` only
   * abandons that caller's wait (the renewal goes on for the others, and is stored).
   */
  async getAccessToken(options) {
    const signal = optionsObject(options, "options").signal;
    if (this.#fresh(this.#current)) return this.#current.access_token;
    if (!this.#inflight) {
      this.#inflight = this.#renew().finally(() => { this.#inflight = null; });
    }
    return (await (signal ? abandonable(this.#inflight, signal) : this.#inflight)).access_token;
  }

  async authorizationHeader(options) {
    return `Bearer ${await this.getAccessToken(options)}`;
  }

  /** Forces a renewal on next use (e.g. after the API refused the token). */
  invalidate() {
    if (this.#current) this.#invalid = this.#current.access_token;
  }

  async #read() {
    let stored = await this.#store.get();
    if (stored === undefined && this.#seed) {
      await this.#store.compareAndSet(undefined, this.#seed);
      stored = await this.#store.get();
    }
    return stored;
  }

  async #renew() {
    const waitUntil = Date.now() + this.#leaseMs * 2;
    for (;;) {
      const stored = await this.#read();
      if (this.#fresh(stored)) return (this.#current = stored); // someone else renewed already
      const lease = await this.#store.acquireLease(this.#leaseMs);
      if (lease !== undefined) {
        try {
          const base = await this.#read(); // re-read under the lease
          if (this.#fresh(base)) return (this.#current = base);
          let next;
          if (this.#grant === "client_credentials") {
            next = await this.#auth.clientCredentials();
          } else {
            if (!base?.refresh_token) throw new ApiException("invalid_argument", "no refresh token is stored: sign in again", { error: "invalid_grant", signInRequired: true });
            next = await this.#auth.refresh(base.refresh_token);
            if (!next.refresh_token) next = { ...next, refresh_token: base.refresh_token };
          }
          if (!(await this.#store.compareAndSet(base, next))) {
            // The store moved on without us (our lease had expired): trust what it holds.
            const now = await this.#store.get();
            if (this.#fresh(now)) return (this.#current = now);
          }
          this.#current = next;
          this.#invalid = null;
          if (this.#onTokens) await this.#onTokens(next);
          return next;
        } finally {
          await this.#store.releaseLease(lease);
        }
      }
      if (Date.now() > waitUntil) throw new ApiException("timeout", "another process holds the token renewal lease and did not finish in time");
      await sleep(Math.min(100, this.#leaseMs / 4));
    }
  }

  /** `fetch` with `Authorization: Bearer …`; on 401/403 renews once and retries once when the body can be replayed. */
  async fetch(input, init) {
    const f = this.#fetch ?? globalThis.fetch;
    const isRequest = typeof Request === "function" && input instanceof Request;
    const body = init?.body;
    const streamBody = typeof ReadableStream === "function" && body instanceof ReadableStream;
    const replayable = !streamBody && !(isRequest && body === undefined && input.body !== null && input.bodyUsed);
    const spare = isRequest && replayable ? input.clone() : undefined;
    const send = async (target) => {
      const token = await this.getAccessToken({ signal: init?.signal ?? (isRequest ? input.signal : undefined) });
      const headers = new Headers(init?.headers ?? (isRequest ? input.headers : undefined));
      headers.set("authorization", `Bearer ${token}`);
      return [await f(target, { ...init, headers }), token];
    };
    const [res, used] = await send(input);
    if ((res.status !== 401 && res.status !== 403) || !replayable) return res;
    if (this.#current?.access_token === used) this.#invalid = used;
    await res.body?.cancel?.().catch(() => {});
    return (await send(spare ?? input))[0];
  }
}
