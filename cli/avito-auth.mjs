#!/usr/bin/env node
// `avito-auth`: the package's command line. A thin consumer of the public API — every token
// request, callback check and renewal is the library's (AvitoAuth, TokenManager); this file only
// reads arguments, talks to the terminal, listens for the loopback redirect and keeps profiles.
import { spawn } from "node:child_process";
import dns from "node:dns/promises";
import http from "node:http";
import { parseArgs } from "node:util";
import { AvitoAuth, TokenManager } from "avito-auth";
import { Profile, ProfileTokenStore, configDir, validProfileName } from "./profile-store.mjs";

const EXIT = { ok: 0, api: 1, usage: 2, signIn: 3 };
const LOGIN_TIMEOUT_S = 300;
const MAX_STDIN_LINE = 64 * 1024;
const MAX_STDIN_BODY = 1024 * 1024;

class UsageError extends Error {}
class SignInRequired extends Error {}

const COMMON = `Common options:
  --profile NAME     the saved sign-in to use (default "default"; $AVITO_PROFILE)
  --host URL         the API server (default https://api.avito.ru; $AVITO_HOST); a signed-in
                     profile only talks to the host it was signed in with (another: exit 2)
  --client-id ID     the application's client id; the secret is then read from stdin
                     (otherwise $AVITO_CLIENT_ID and $AVITO_CLIENT_SECRET)
  --verbose          print the stack of an error
  -h, --help         this help`;

const HELP = {
  main: `avito-auth — Avito OAuth tokens from the terminal

Usage: avito-auth <command> [options]

Commands:
  token        an application (client_credentials) access token
  login        sign a seller in (authorization code) and save the tokens in a profile
  user-token   the profile's access token, renewed when needed
  status       the profile, its scopes and when its token expires (no secrets)
  logout       forget the profile's tokens
  api          an authenticated Avito API call: avito-auth api GET /core/v1/accounts/self

Run "avito-auth <command> --help" for a command's options.
Exit codes: 0 success, 1 API error, 2 usage, 3 sign-in required.
Profiles are saved (mode 0600) in ${configDir()}.

${COMMON}`,
  token: `Usage: avito-auth token [--json | --header]

Prints a client_credentials access token, bare, on stdout:
  curl -H "Authorization: Bearer $(avito-auth token)" https://api.avito.ru/core/v1/accounts/self

Options:
  --json     the whole TokenSet as JSON
  --header   "Authorization: Bearer …"

${COMMON}`,
  login: `Usage: avito-auth login --scope SCOPES --redirect-uri URI [options]

Signs a seller in with the authorization-code flow: prints Avito's consent URL (and opens a
browser when one is available), checks the returned state, exchanges the code and saves the
tokens in the profile.
When URI is http://localhost:PORT/… or http://127.0.0.1:PORT/…, it listens on exactly that
address for the redirect (localhost: every address it resolves to, e.g. 127.0.0.1 and ::1), and
fails before showing the URL when it cannot (exit 2). Otherwise paste the address you were
redirected to on stdin. The browser is started without $AVITO_CLIENT_SECRET in its environment.

Options:
  --scope SCOPES         comma-separated, e.g. messenger:read,items:info
  --redirect-uri URI     the redirect URI registered for the application ($AVITO_REDIRECT_URI)
  --authorize-url URL    the consent page (default https://avito.ru/oauth)
  --no-browser           only print the URL ($AVITO_AUTH_NO_BROWSER=1; $BROWSER names a browser)
  --timeout SECONDS      how long to wait for the redirect (default ${LOGIN_TIMEOUT_S})

${COMMON}`,
  "user-token": `Usage: avito-auth user-token [--json | --header]

Prints the profile's user access token, renewed through a TokenManager when it is about to
expire; the rotated refresh token is saved back to the profile. Exit 3 when the seller must
sign in again.

Options:
  --json     the whole TokenSet as JSON
  --header   "Authorization: Bearer …"

${COMMON}`,
  status: `Usage: avito-auth status [--json]

Shows the profile, its client id and host, its scopes, when its access token expires, and its
health as the stored set records it (state, last renewal, failures in a row and the last one,
scopes an API found missing). Never shows a token or secret.

Options:
  --json     the same as JSON

${COMMON}`,
  logout: `Usage: avito-auth logout

Deletes the profile's saved tokens, for good: a user-token renewing in another process at the
same time cannot write them back and exits 3 without printing a token; so does the next one.

${COMMON}`,
  api: `Usage: avito-auth api METHOD PATH [--data JSON] [--app]

Calls the Avito API (through TokenManager.fetch: the Authorization header is added, an expired
token is renewed) and prints the answer on stdout (JSON pretty-printed). A non-2xx answer
exits 1.

  avito-auth api GET /core/v1/accounts/self

Options:
  --data JSON   the request body (sent as application/json); "-" reads it from stdin, all
                of it after the client secret's line when --client-id reads that from stdin
  --app         use an application (client_credentials) token instead of the profile's

${COMMON}`,
};

const COMMANDS = {
  token: { json: { type: "boolean" }, header: { type: "boolean" } },
  login: {
    scope: { type: "string" }, "redirect-uri": { type: "string" }, "authorize-url": { type: "string" },
    "no-browser": { type: "boolean" }, timeout: { type: "string" },
  },
  "user-token": { json: { type: "boolean" }, header: { type: "boolean" } },
  status: { json: { type: "boolean" } },
  logout: {},
  api: { data: { type: "string" }, app: { type: "boolean" } },
};
const COMMON_OPTIONS = {
  profile: { type: "string" }, host: { type: "string" }, "client-id": { type: "string" },
  verbose: { type: "boolean" }, help: { type: "boolean", short: "h" },
};

// stdin, read on demand: the secret's line first, then a pasted URL's line or the rest as the
// body of --data -. One reader owns the stream, so bytes that arrived in the same chunk as a
// line stay for whatever is read next.
const stdin = {
  buffered: Buffer.alloc(0),
  chunks: undefined,
  /** Reads one more chunk into `buffered`; false at the end of stdin. */
  async more() {
    this.chunks ??= process.stdin[Symbol.asyncIterator]();
    const { value, done } = await this.chunks.next();
    if (done) return false;
    this.buffered = Buffer.concat([this.buffered, Buffer.from(value)]); // a string once hiddenLine set an encoding
    return true;
  },
  take(length, skip = 0) {
    const text = this.buffered.subarray(0, length).toString("utf8");
    this.buffered = this.buffered.subarray(length + skip);
    return text;
  },
};
async function stdinLine(what) {
  for (;;) {
    const nl = stdin.buffered.indexOf(0x0a);
    if (nl >= 0) return stdin.take(nl, 1).replace(/\r$/, "");
    if (stdin.buffered.length > MAX_STDIN_LINE) throw new UsageError(`${what}: a line on stdin is longer than ${MAX_STDIN_LINE} bytes`);
    if (!(await stdin.more())) break;
  }
  if (stdin.buffered.length === 0) throw new UsageError(`${what} expected on stdin`);
  return stdin.take(stdin.buffered.length).replace(/\r$/, "");
}
async function stdinRest() {
  while (await stdin.more()) {
    if (stdin.buffered.length > MAX_STDIN_BODY) throw new UsageError("--data -: stdin is over 1 MiB");
  }
  return stdin.take(stdin.buffered.length);
}

/** A line typed at a terminal without echo (the client secret). */
function hiddenLine(prompt) {
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let typed = "";
    const done = (error) => {
      process.stdin.off("data", onData);
      process.stdin.setRawMode(false);
      process.stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return done();
        if (ch === "\u0003") return done(new UsageError("cancelled"));
        if (ch === "\u007f" || ch === "\b") typed = typed.slice(0, -1);
        else if (typed.length < MAX_STDIN_LINE) typed += ch;
      }
    };
    process.stdin.setEncoding("utf8");
    process.stdin.setRawMode(true);
    process.stdin.on("data", onData);
    process.stdin.resume();
  });
}

function parse(argv) {
  const command = argv[0];
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    const topic = command === "help" ? argv[1] : undefined;
    return { help: HELP[topic] ?? HELP.main };
  }
  if (!(command in COMMANDS)) throw new UsageError(`unknown command "${command}" (try avito-auth --help)`);
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(1), options: { ...COMMON_OPTIONS, ...COMMANDS[command] }, allowPositionals: command === "api", strict: true });
  } catch (e) {
    throw new UsageError(`${command}: ${e.message.split("\n")[0]}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: HELP[command] };
  const profile = values.profile ?? process.env.AVITO_PROFILE ?? "default";
  if (!validProfileName(profile)) throw new UsageError(`--profile must be 1–64 letters, digits, "_", "-" or "." (not starting with ".")`);
  return { command, values, positionals, profile: new Profile(profile) };
}

/** The application's credentials: --client-id with the secret on stdin, or the environment. */
async function credentials(values, saved) {
  let clientId, clientSecret;
  if (values["client-id"] !== undefined) {
    clientId = values["client-id"];
    clientSecret = process.stdin.isTTY ? await hiddenLine("Client secret: ") : await stdinLine("the client secret (--client-id was given)");
  } else {
    clientId = process.env.AVITO_CLIENT_ID || saved?.client_id;
    clientSecret = process.env.AVITO_CLIENT_SECRET;
  }
  if (!clientId || !clientSecret) {
    throw new UsageError("no credentials: set AVITO_CLIENT_ID and AVITO_CLIENT_SECRET, or pass --client-id and the secret on stdin");
  }
  if (saved?.client_id && saved.client_id !== clientId) {
    throw new UsageError(`this profile belongs to client id "${saved.client_id}", not "${clientId}"`);
  }
  return { clientId, clientSecret };
}

const hostOf = (values) => values.host ?? process.env.AVITO_HOST ?? undefined;
/** A host as compared for the pin: scheme, host, port and path, without trailing slashes. */
const hostKey = (host) => {
  try {
    const u = new URL(host);
    return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return host;
  }
};

/**
 * The host a signed-in profile talks to: the one it was signed in with. Another --host or
 * $AVITO_HOST is refused before anything is sent, so the seller's refresh token (and access
 * token) never reach a server the seller did not sign in with.
 */
function pinnedHost(values, saved) {
  const asked = hostOf(values);
  if (asked !== undefined && saved.host !== undefined && hostKey(asked) !== hostKey(saved.host)) {
    const source = values.host !== undefined ? "--host" : "$AVITO_HOST";
    throw new UsageError(`profile "${saved.name}" was signed in with ${saved.host}, not ${asked} (${source}): unset ${source}, or sign in with that host under another --profile`);
  }
  return saved.host ?? asked;
}

/** The AvitoAuth of a command: for a signed-in profile (`saved`) at its pinned host. */
async function authFor(values, saved, extra = {}) {
  const host = saved ? pinnedHost(values, saved) : hostOf(values);
  const creds = await credentials(values, saved);
  return new AvitoAuth({ ...creds, ...(host ? { host } : {}), userAgent: "avito-auth-cli", ...extra });
}

function printToken(ts, values) {
  if (values.json) return process.stdout.write(`${JSON.stringify(ts, null, 2)}\n`);
  process.stdout.write(values.header ? `Authorization: Bearer ${ts.access_token}\n` : `${ts.access_token}\n`);
}

function savedProfile(profile) {
  const saved = profile.read();
  if (!saved?.tokens) throw new SignInRequired(`not signed in (profile "${profile.name}"): run avito-auth login`);
  return { ...saved, name: profile.name };
}

/**
 * A TokenManager over the profile's file store (renewals are shared across processes), and its
 * host; `onEvent` gets its events (README "Watching your sellers").
 */
async function userManager(values, profile, onEvent) {
  const saved = savedProfile(profile);
  const auth = await authFor(values, saved);
  return { tm: new TokenManager({ auth, grant: "refresh_token", store: new ProfileTokenStore(profile), ...(onEvent ? { onEvent } : {}) }), host: auth.host, saved };
}

// ── login ────────────────────────────────────────────────────────────────────────────────

/** `{ hostname, port, pathname }` when the redirect URI is a loopback http address with a port. */
function loopbackOf(redirectUri) {
  let u;
  try {
    u = new URL(redirectUri);
  } catch {
    throw new UsageError("--redirect-uri is not a URL");
  }
  if (u.protocol !== "http:" || !u.port || !["localhost", "127.0.0.1", "[::1]"].includes(u.hostname)) return undefined;
  return { hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(u.port), pathname: u.pathname };
}

function openBrowser(url, values) {
  if (values["no-browser"] || process.env.AVITO_AUTH_NO_BROWSER === "1") return false;
  let cmd, args;
  if (process.env.BROWSER) [cmd, args] = [process.env.BROWSER, [url]];
  else if (process.platform === "darwin") [cmd, args] = ["open", [url]];
  else if (process.platform === "win32") [cmd, args] = ["cmd", ["/c", "start", "", url.replace(/&/g, "^&")]];
  else if (process.env.DISPLAY || process.env.WAYLAND_DISPLAY) [cmd, args] = ["xdg-open", [url]];
  else return false;
  try {
    // The browser (and whatever it starts) gets the environment without the client secret.
    const { AVITO_CLIENT_SECRET, ...env } = process.env;
    const child = spawn(cmd, args, { stdio: "ignore", detached: true, env });
    child.on("error", () => {}); // no browser after all: the URL is printed anyway
    child.unref();
    return true;
  } catch {
    return false;
  }
}

const page = (title, text) => `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font:16px system-ui;max-width:32rem;margin:3rem auto"><h1>${title}</h1><p>${text}</p>`;

/** The addresses to listen on: the literal one, or every one `localhost` resolves to (127.0.0.1, ::1). */
async function loopbackAddresses(hostname) {
  if (hostname !== "localhost") return [hostname];
  return [...new Set((await dns.lookup("localhost", { all: true })).map((a) => a.address))];
}

/** One listener on `address`; rejects with the listen error (a taken port: EADDRINUSE). */
function listenOn(server, port, address) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/**
 * Listens on the loopback address(es) for the redirect whose state matches; resolves, once
 * listening, to `{ code }`, a promise of its code (wrapped: awaiting a bare promise would wait
 * for the code). Fails (a UsageError) before anything is shown when it cannot listen.
 */
async function listenForRedirect(auth, loopback, state, timeoutMs) {
  let settle;
  const code = new Promise((resolve, reject) => (settle = { resolve, reject }));
  const onRequest = (req, res) => {
    let url;
    try {
      url = new URL(req.url, "http://loopback.invalid");
    } catch {
      // A request target no URL parser accepts (e.g. "http://a:b:c/"): not the redirect.
      res.writeHead(400, { "content-type": "text/plain", connection: "close" });
      return res.end("bad request\n");
    }
    if (req.method !== "GET" || url.pathname !== loopback.pathname) {
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end("not found\n");
    }
    let result;
    try {
      result = auth.parseCallback(url, state);
    } catch (e) {
      if (e?.error === "state_mismatch" || e?.error === "missing_code" && !url.searchParams.has("error")) {
        // Not the answer to our request (a stale tab, a forged request): keep waiting.
        res.writeHead(400, { "content-type": "text/html; charset=utf-8" });
        return res.end(page("Not this sign-in", "This address does not answer the sign-in that avito-auth is waiting for."));
      }
      res.writeHead(400, { "content-type": "text/html; charset=utf-8" });
      res.end(page("Sign-in failed", "Avito did not grant access. See the terminal."));
      return finish(e);
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", connection: "close" });
    res.end(page("Signed in", "avito-auth received the authorization. You can close this tab."));
    finish(undefined, result.code);
  };
  // A request Node cannot parse (a malformed request line, headers past maxHeaderSize): 400 and
  // the connection closed; the wait goes on.
  const onClientError = (_error, socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  };
  const servers = [];
  let timer;
  function finish(error, result) {
    clearTimeout(timer);
    for (const server of servers) {
      server.close();
      server.closeIdleConnections?.();
    }
    if (error) settle.reject(error);
    else settle.resolve(result);
  }
  try {
    for (const address of await loopbackAddresses(loopback.hostname)) {
      const server = http.createServer(onRequest).on("clientError", onClientError);
      try {
        servers.push(await listenOn(server, loopback.port, address));
      } catch (e) {
        // An address this machine cannot bind (::1 in a container without IPv6) is skipped
        // when `localhost` has another one; a taken port is not.
        if (!(loopback.hostname === "localhost" && ["EADDRNOTAVAIL", "EAFNOSUPPORT"].includes(e.code))) throw e;
      }
    }
    if (servers.length === 0) throw Object.assign(new Error("no address of localhost can be bound"), { code: "EADDRNOTAVAIL" });
  } catch (e) {
    finish(e);
    code.catch(() => {});
    const why = e.code === "EADDRINUSE" ? "the port is taken" : e.code ?? e.message;
    throw new UsageError(`cannot listen on ${loopback.hostname}:${loopback.port} for the redirect (${why}): free it, or register and pass another --redirect-uri`);
  }
  timer = setTimeout(() => finish(new Error(`no redirect within ${timeoutMs / 1000} s`)), timeoutMs);
  return { code };
}

async function login({ values, profile }) {
  const scope = values.scope;
  if (!scope) throw new UsageError("login: --scope is required (e.g. --scope messenger:read,items:info)");
  const redirectUri = values["redirect-uri"] ?? process.env.AVITO_REDIRECT_URI;
  if (!redirectUri) throw new UsageError("login: --redirect-uri is required (the redirect URI registered for the application)");
  const timeout = values.timeout === undefined ? LOGIN_TIMEOUT_S : Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 3600) throw new UsageError("login: --timeout must be 1–3600 seconds");
  const authorizeUrl = values["authorize-url"] ?? process.env.AVITO_AUTHORIZE_URL;
  // A new sign-in replaces the profile, whichever application it belonged to.
  const auth = await authFor(values, undefined, authorizeUrl ? { authorizeUrl } : {});
  const loopback = loopbackOf(redirectUri);
  const { url, state } = auth.authorizationUrl({ scope: scope.split(",").map((s) => s.trim()).filter(Boolean), redirectUri });

  let code;
  if (loopback) {
    // Listening before the URL is shown, so the redirect cannot come first and a port that
    // cannot be listened on fails the command before the seller is sent to the consent page.
    const waiting = (await listenForRedirect(auth, loopback, state, timeout * 1000)).code;
    process.stderr.write(`Open this URL to sign in (waiting on ${redirectUri}):\n  ${url}\n`);
    if (openBrowser(url, values)) process.stderr.write("(opened in your browser)\n");
    code = await waiting;
  } else {
    process.stderr.write(`Open this URL to sign in:\n  ${url}\n`);
    if (openBrowser(url, values)) process.stderr.write("(opened in your browser)\n");
    process.stderr.write("Then paste the address you were redirected to:\n");
    const pasted = (await stdinLine("the address you were redirected to")).trim();
    code = auth.parseCallback(pasted, state).code;
  }
  const tokens = await auth.exchangeCode(code, { redirectUri });
  await profile.locked(() => profile.write({ client_id: auth.clientId, host: auth.host, redirect_uri: redirectUri, tokens }));
  process.stderr.write(`Signed in: profile "${profile.name}", scopes ${(tokens.scopes ?? []).join(",") || "(none named)"}.\n`);
}

// ── the other commands ───────────────────────────────────────────────────────────────────

async function token({ values }) {
  const auth = await authFor(values, undefined);
  printToken(await auth.clientCredentials(), values);
}

async function userToken({ values, profile }) {
  const { tm } = await userManager(values, profile);
  const access = await tm.getAccessToken();
  // A renewal that ended after a logout in another process: its tokens were not saved (the store
  // refused them), and they are not handed out either.
  if (profile.read() === undefined) throw new SignInRequired(`signed out meanwhile (profile "${profile.name}"): run avito-auth login`);
  if (!values.json) return printToken({ access_token: access }, values);
  // The set without its refresh token and renewal marks: those stay in the profile.
  const stored = (await new ProfileTokenStore(profile).get()) ?? {};
  const { token_type, expires_in, expires_at, scope, scopes } = stored.access_token === access ? stored : {};
  printToken({ access_token: access, token_type, expires_in, expires_at, scope, scopes }, values);
}

function expiry(at) {
  if (typeof at !== "number") return { text: "unknown (the server sent no expires_in)" };
  const left = Math.round((at - Date.now()) / 1000);
  const human = (s) => (s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`);
  return { at: new Date(at).toISOString(), text: left > 0 ? `${new Date(at).toISOString()} (in ${human(left)})` : `${new Date(at).toISOString()} (expired ${human(-left)} ago; renewed on next use)` };
}

/** `login --scope …` with what the profile was granted and what an API found missing. */
const loginWith = (granted, missing) => `avito-auth login --scope ${[...new Set([...granted, ...missing])].join(",")}`;
const when = (at) => (typeof at === "number" ? new Date(at).toISOString() : null);

async function status({ values, profile }) {
  const saved = savedProfile(profile);
  const host = pinnedHost(values, saved);
  // The library's status(): read from the profile's stored set, the same in every process. It
  // reads the store only: the client secret is not needed, nor sent.
  const auth = new AvitoAuth({ clientId: saved.client_id, clientSecret: "unused-by-status", ...(host ? { host } : {}) });
  const health = await new TokenManager({ auth, grant: "refresh_token", store: new ProfileTokenStore(profile) }).status();
  const t = saved.tokens;
  const scopes = health.scopes;
  const exp = expiry(t.expires_at);
  const failure = health.lastFailure;
  const info = {
    profile: profile.name,
    file: profile.file,
    client_id: saved.client_id,
    host: saved.host,
    scopes,
    expires_at: exp.at ?? null,
    refresh_token: typeof t.refresh_token === "string" ? "saved" : "none (sign in again)",
    state: health.state,
    last_renewal_at: when(health.lastRenewalAt),
    last_failure: failure && { ...failure, at: when(failure.at) },
    consecutive_failures: health.consecutiveFailures,
    missing_scopes: health.missingScopes ?? [],
  };
  if (values.json) return process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
  const failed = failure ? `; last ${info.last_failure.at}: ${[failure.kind, failure.status, failure.error].filter((x) => x !== null).join(" ")}` : "";
  process.stdout.write([
    `Profile:    ${info.profile} (${info.file})`,
    `Client id:  ${info.client_id}`,
    `Host:       ${info.host}`,
    `Scopes:     ${scopes.join(", ") || "(none named)"}`,
    `Expires:    ${exp.text}`,
    `Refresh:    ${info.refresh_token}`,
    `State:      ${health.state}`,
    `Renewed:    ${info.last_renewal_at ?? "not since the sign-in"}`,
    `Failures:   ${health.consecutiveFailures} in a row${failed}`,
    ...(info.missing_scopes.length ? [`Missing:    ${info.missing_scopes.join(", ")} (an API refused them): run ${loginWith(scopes, info.missing_scopes)}`] : []),
  ].join("\n") + "\n");
}

async function logout({ profile }) {
  // Under the profile's mutex: a renewal in another process writes only through compareAndSet,
  // which finds no profile afterwards and writes nothing (see profile-store.mjs).
  const existed = await profile.locked(() => profile.remove());
  process.stderr.write(existed ? `Signed out: profile "${profile.name}" deleted.\n` : `Profile "${profile.name}" was not signed in.\n`);
}

async function api({ values, positionals, profile }) {
  const [method, apiPath, ...rest] = positionals;
  if (!method || !apiPath || rest.length) throw new UsageError("api: expected METHOD PATH, e.g. avito-auth api GET /core/v1/accounts/self");
  if (!/^[A-Za-z]{1,16}$/.test(method)) throw new UsageError("api: METHOD must be an HTTP method such as GET or POST");
  if (!apiPath.startsWith("/") || apiPath.startsWith("//")) throw new UsageError("api: PATH must start with a single /");
  let tm, host, saved;
  // The scopes a 403 found missing (tm.fetch hands such a refusal back without renewing).
  let missing = [];
  const onEvent = (e) => e.type === "api_refused" && e.missingScopes && (missing = e.missingScopes);
  if (values.app) {
    const auth = await authFor(values, undefined);
    tm = new TokenManager({ auth, grant: "client_credentials" });
    host = auth.host;
  } else {
    ({ tm, host, saved } = await userManager(values, profile, onEvent));
  }
  const init = { method: method.toUpperCase(), headers: { accept: "application/json" } };
  if (values.data !== undefined) {
    init.body = values.data === "-" ? await stdinRest() : values.data;
    init.headers["content-type"] = "application/json";
  }
  const res = await tm.fetch(`${host.replace(/\/+$/, "")}${apiPath}`, init);
  const text = await res.text();
  let out = text;
  try {
    out = JSON.stringify(JSON.parse(text), null, 2);
  } catch {}
  if (out) process.stdout.write(out.endsWith("\n") ? out : `${out}\n`);
  if (!res.ok) {
    const granted = Array.isArray(saved?.tokens.scopes) ? saved.tokens.scopes : [];
    const why = missing.length ? `: the token lacks ${missing.join(", ")}, which this operation declares; sign in again with it: ${loginWith(granted, missing)}` : "";
    process.stderr.write(`avito-auth: ${init.method} ${apiPath}: HTTP ${res.status}${why}\n`);
    return EXIT.api;
  }
}

const RUN = { token, login, "user-token": userToken, status, logout, api };

/** The one-line message for an error (never a secret: ApiException messages are redacted). */
function describe(e) {
  if (e?.name === "ApiException") {
    return e.signInRequired ? `${e.message} — the seller must sign in again: run avito-auth login` : e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

async function main(argv) {
  let verbose = argv.includes("--verbose");
  try {
    const parsed = parse(argv);
    if (parsed.help) {
      process.stdout.write(`${parsed.help}\n`);
      return EXIT.ok;
    }
    verbose = parsed.values.verbose === true;
    return (await RUN[parsed.command](parsed)) ?? EXIT.ok;
  } catch (e) {
    process.stderr.write(`avito-auth: ${describe(e).replace(/\s*\n\s*/g, " ")}\n`);
    if (verbose && e?.stack) process.stderr.write(`${e.stack}\n`);
    if (e instanceof UsageError) return EXIT.usage;
    if (e instanceof SignInRequired || e?.signInRequired === true) return EXIT.signIn;
    if (e?.name === "ApiException" && e.kind === "invalid_argument") return EXIT.usage;
    return EXIT.api;
  }
}

process.exitCode = await main(process.argv.slice(2));
// stdin may still be open (a terminal): nothing else is pending once main() is done.
process.stdin.destroy?.();
