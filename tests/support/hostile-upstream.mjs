// A hostile token endpoint for the tests: a raw TCP server (node:net, no HTTP library, so it can
// break HTTP in ways a framework would refuse to) on 127.0.0.1. Every scenario below is a named
// way to misbehave after reading the whole request — so the server "may have consumed" the code or
// refresh token it was sent, and a client must never present that credential again.
//
// Routing: `upstream.endpoint("stall-after-headers")` returns a base URL
// `http://127.0.0.1:PORT/e/<id>`; the client posts to `/e/<id>/token` and gets that endpoint's
// current scenario. `ep.set("ok")` (or `POST /__set/<id>/<scenario>` from another process or a
// Worker) switches the same endpoint to a well-behaved answer, to check the same client instance
// still works afterwards. Every request is recorded with its decoded form body, so a test can count
// how many times a given code or refresh token was presented.
//
// A second listener on 127.0.0.2 is the redirect target: a client that follows a 3xx re-posts the
// form (with the client secret) to another host, and it would show up in `redirectTarget.requests`.
import net from "node:net";
import zlib from "node:zlib";
import { Readable } from "node:stream";

const MiB = 1 << 20;
const KiB = 1 << 10;
/** No connection outlives this, whatever the scenario: every wait in here is bounded. */
const MAX_CONNECTION_MS = 30_000;

// ---------------------------------------------------------------------------------------------
// Canary secrets: every test credential is one of these, so any leak is visible. Each has an
// alphanumeric core (the same in every spelling: raw, percent-encoded, JSON-escaped) followed by
// characters that every encoding spells differently. A test looks for the first 8 characters of a
// core: it catches the whole value in any spelling, and a value cut in half by truncation.
// ---------------------------------------------------------------------------------------------
const TAIL = ` "q" \\ /&=+%ü😀`;
export const CANARY = {
  clientSecret: `CnryCsX7q2Lm9Wv4${TAIL}`,
  code: `CnryCdK3p8Zt1Rb6${TAIL}`,
  refreshToken: `CnryRtF5n0Yh2Gs7${TAIL}`,
};
/** What a test searches for: a leak of any canary, in any spelling, even a truncated one. */
export const CANARY_MARKERS = Object.values(CANARY).map((s) => s.slice(0, 8));
/** A per-call unique credential that is still a canary (its core comes first). */
export const uniqueCanary = (base, id) => `${base} #${id}`;

/**
 * The spellings of a value a server might echo back. The README names raw, percent-encoded and
 * JSON-escaped; `form` (+ for a space), `jsonAscii` and `jsonGo` are what common server stacks
 * write for the same thing, and have echo scenarios of their own.
 */
export function spellings(value) {
  const json = JSON.stringify(value).slice(1, -1);
  // ensure_ascii-style (Python's json.dumps): every non-ASCII UTF-16 unit as \uXXXX.
  const jsonAscii = json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  // Go's encoding/json additionally escapes <, > and & (HTML-safe by default).
  const jsonGo = jsonAscii.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  return {
    raw: value,
    percent: encodeURIComponent(value), // %20 for a space, upper-case hex: what the client itself sends
    form: new URLSearchParams({ v: value }).toString().slice(2), // application/x-www-form-urlencoded: + for a space
    json,
    jsonAscii,
    jsonGo,
  };
}

// ---------------------------------------------------------------------------------------------
// Response helpers
// ---------------------------------------------------------------------------------------------
const REASON = { 200: "OK", 302: "Found", 307: "Temporary Redirect", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 502: "Bad Gateway" };
/** A status line and headers; `Connection: close` so no client ever reuses a hostile socket. */
function head(status, headers = {}, version = "HTTP/1.1") {
  let s = `${version} ${status} ${REASON[status] ?? "Whatever"}\r\n`;
  for (const [k, v] of Object.entries({ Connection: "close", ...headers })) if (v !== undefined) s += `${k}: ${v}\r\n`;
  return s + "\r\n";
}
/** A complete response with a Content-Length. */
function full(status, body, headers = {}) {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body, "utf8");
  return Buffer.concat([Buffer.from(head(status, { "Content-Type": "application/json", "Content-Length": b.length, ...headers })), b]);
}
const tokenJson = (accessToken, withRefresh = true) =>
  JSON.stringify({ access_token: accessToken, expires_in: 3600, token_type: "Bearer", ...(withRefresh ? { refresh_token: `rt_${accessToken}`, scope: "messenger:read" } : {}) });
/** The valid tail of a token object, appended to a huge access_token so only a size rule can refuse it. */
const TOKEN_TAIL = `","expires_in":3600,"token_type":"Bearer","refresh_token":"rt_x","scope":"messenger:read"}`;

// Decompression bombs: 256 MiB of a *valid* token response (an enormous access_token, or a
// whitespace-padded object) compressed to a few hundred KiB, built once by streaming through
// node:zlib 1 MiB at a time so the test process itself never holds the inflated text.
const BOMB_INFLATED = 256 * MiB;
function* bombSource(shape) {
  const [prefix, fill, suffix] = shape === "padded"
    ? ["{", 0x20, `"access_token":"at_padded","expires_in":3600,"token_type":"Bearer"}`]
    : ['{"access_token":"', 0x61, TOKEN_TAIL];
  yield Buffer.from(prefix);
  const chunk = Buffer.alloc(MiB, fill);
  for (let i = 0; i < BOMB_INFLATED / MiB; i++) yield chunk;
  yield Buffer.from(suffix);
}
const bombs = new Map();
/** The compressed bomb for a Content-Encoding (cached per process). */
export function bomb(encoding) {
  if (!bombs.has(encoding)) {
    const [compressor, shape] = {
      gzip: [() => zlib.createGzip({ level: 9, strategy: zlib.constants.Z_RLE }), "token"],
      deflate: [() => zlib.createDeflate({ level: 9, strategy: zlib.constants.Z_RLE }), "padded"], // zlib-wrapped, as HTTP's "deflate" is
      br: [() => zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } }), "token"],
    }[encoding];
    bombs.set(encoding, (async () => {
      const parts = [];
      for await (const c of Readable.from(bombSource(shape)).pipe(compressor())) parts.push(c);
      return Buffer.concat(parts);
    })());
  }
  return bombs.get(encoding);
}

/** Deterministic "random" bytes (a fixed LCG), so a failure reproduces. */
function garbage(n) {
  const b = Buffer.alloc(n);
  let x = 0x2545f491;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; b[i] = x >>> 24; }
  return b;
}

const NEST = 100_000; // nesting depth of the deep-JSON scenarios (100 KB, well under 1 MiB)

// ---------------------------------------------------------------------------------------------
// Scenarios. Each: `respond(ctx)` (async; see `Ctx` below) and `expect`, the outcome the README's
// error table calls for:
//   kinds          — acceptable ApiException kinds ("ok" = must succeed)
//   status         — the ApiException's status, when there is one to check
//   retriedForCC   — the README says this failure ("reset", "timeout") IS retried for
//                    client_credentials, so a client_credentials call makes exactly maxAttempts requests
//   heavy          — huge or bomb bodies: run in a child process, where peak memory is measured
// ---------------------------------------------------------------------------------------------
export const SCENARIOS = {
  // A well-behaved endpoint (also what `ep.set("ok")` switches to).
  ok: {
    expect: { kinds: ["ok"] },
    async respond(ctx) {
      const n = ++ctx.upstream.issued;
      ctx.send(full(200, tokenJson(`at_ok_${n}`, ctx.form.grant_type !== "client_credentials")));
      ctx.end();
    },
  },

  // --- connection failures ------------------------------------------------------------------
  "reset-before-status": {
    // README: network, "connection refused or reset"; a reset is retried for client_credentials only.
    expect: { kinds: ["network"], retriedForCC: true },
    async respond(ctx) { ctx.reset(); },
  },
  "reset-after-status": {
    expect: { kinds: ["network"], retriedForCC: true },
    async respond(ctx) {
      ctx.send("HTTP/1.1 200 OK\r\n");
      await ctx.sleep(20);
      ctx.reset();
    },
  },
  "reset-mid-body": {
    expect: { kinds: ["network"], retriedForCC: true },
    async respond(ctx) {
      const body = tokenJson("at_never_complete");
      ctx.send(head(200, { "Content-Type": "application/json", "Content-Length": body.length + 400 }) + body.slice(0, 20));
      await ctx.sleep(20);
      ctx.reset();
    },
  },

  // --- too slow -----------------------------------------------------------------------------
  "stall-after-headers": {
    // Headers, then silence: "no complete response within timeoutMs" covers reading the body.
    expect: { kinds: ["timeout"], retriedForCC: true },
    async respond(ctx) {
      ctx.send(head(200, { "Content-Type": "application/json", "Content-Length": 120 }));
      await ctx.closed; // until the client gives up (bounded by MAX_CONNECTION_MS)
    },
  },
  "trickle-body": {
    // A valid token, one byte every 50 ms (~12 s in all): only a timeout that covers the body ends it.
    expect: { kinds: ["timeout"], retriedForCC: true },
    async respond(ctx) {
      const body = tokenJson("at_trickled").padEnd(240, " ");
      ctx.send(head(200, { "Content-Type": "application/json", "Content-Length": body.length }));
      for (let i = 0; i < body.length && !ctx.isClosed(); i++) {
        ctx.send(body[i]);
        await ctx.sleep(50);
      }
      ctx.end();
    },
  },

  // --- too big ------------------------------------------------------------------------------
  "chunked-8mib": {
    // A valid token object whose access_token is 8 MiB, chunked, no Content-Length: only the
    // README's "over 1 MiB" rule can refuse it.
    expect: { kinds: ["invalid_response"], heavy: true },
    async respond(ctx) {
      ctx.send(head(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" }));
      const chunk = Buffer.alloc(64 * KiB, 0x61);
      const frame = (b) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]);
      if (!(await ctx.write(frame(Buffer.from('{"access_token":"'))))) return;
      for (let i = 0; i < (8 * MiB) / chunk.length; i++) if (!(await ctx.write(frame(chunk)))) return;
      await ctx.write(frame(Buffer.from(TOKEN_TAIL)));
      await ctx.write("0\r\n\r\n");
      ctx.end();
    },
  },
  ...Object.fromEntries(["gzip", "deflate", "br"].map((enc) => [`${enc}-bomb`, {
    // ~260 KB (gzip, deflate) or ~0.4 KB (br) on the wire, 256 MiB once inflated: a 2xx "over 1 MiB".
    expect: { kinds: ["invalid_response"], heavy: true },
    async respond(ctx) {
      const compressed = await bomb(enc);
      ctx.send(head(200, { "Content-Type": "application/json", "Content-Encoding": enc, "Content-Length": compressed.length }));
      for (let i = 0; i < compressed.length; i += 16 * KiB) if (!(await ctx.write(compressed.subarray(i, i + 16 * KiB)))) return;
      ctx.end();
    },
  }])),

  // --- framing lies -------------------------------------------------------------------------
  "content-length-short": {
    // Content-Length 24 for an 80-byte body: the framed body is a truncated object (invalid);
    // the bytes after it are garbage on the connection (a strict client may call that network).
    expect: { kinds: ["invalid_response", "network"] },
    async respond(ctx) {
      const body = tokenJson("at_lying_length");
      ctx.send(head(200, { "Content-Type": "application/json", "Content-Length": 24 }) + body);
      ctx.end();
    },
  },
  "content-length-long-then-close": {
    // Claims 4096 bytes, sends a complete-looking token object (~100 bytes), then closes: the body
    // was cut short — never a success. Reported as network (premature close) or invalid_response.
    expect: { kinds: ["network", "invalid_response"] },
    async respond(ctx) {
      ctx.send(head(200, { "Content-Type": "application/json", "Content-Length": 4096 }) + tokenJson("at_cut_short"));
      await ctx.sleep(20);
      ctx.end();
    },
  },
  "http10-close": {
    // HTTP/1.0, no length, body ends when the server closes: Avito's {"error":{…}} shape in a 2xx
    // is invalid_response (README, "choices"). A client waiting for a length would time out instead.
    expect: { kinds: ["invalid_response"] },
    async respond(ctx) {
      ctx.send(`HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"error":{"code":500,"message":"upstream failed"}}`);
      await ctx.sleep(20);
      ctx.end();
    },
  },
  "http10-close-token": {
    // The positive control for the framing above: a close-delimited *valid* token must be read to
    // EOF and accepted (otherwise "http10-close" could pass for the wrong reason).
    expect: { kinds: ["ok"] },
    async respond(ctx) {
      ctx.send(`HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n${tokenJson("at_http10", ctx.form.grant_type !== "client_credentials")}`);
      await ctx.sleep(20);
      ctx.end();
    },
  },

  // --- bad content --------------------------------------------------------------------------
  "invalid-utf8-token": {
    // Bytes 0xff 0xfe inside access_token: not UTF-8, so not JSON (RFC 8259 §8.1). Decoding it
    // with U+FFFD replacement would hand the caller a token that is not the one the server sent.
    expect: { kinds: ["invalid_response"] },
    async respond(ctx) {
      const [a, b] = tokenJson("at_MARK").split("MARK");
      ctx.send(full(200, Buffer.concat([Buffer.from(a), Buffer.from([0xff, 0xfe]), Buffer.from(b)]), { "Content-Type": "application/json; charset=utf-8" }));
      ctx.end();
    },
  },
  "json-null": {
    expect: { kinds: ["invalid_response"] },
    async respond(ctx) { ctx.send(full(200, "null")); ctx.end(); },
  },
  "empty-200": {
    expect: { kinds: ["invalid_response"] },
    async respond(ctx) { ctx.send(full(200, "")); ctx.end(); },
  },
  "nested-array": {
    // 100k "[": a recursive parser without a depth limit overflows its stack (in wasm: a trap that
    // kills the instance, which the instance-reuse check would catch).
    expect: { kinds: ["invalid_response"] },
    async respond(ctx) { ctx.send(full(200, "[".repeat(NEST))); ctx.end(); },
  },
  "nested-error-200": {
    expect: { kinds: ["invalid_response"] },
    async respond(ctx) { ctx.send(full(200, `{"error":${"[".repeat(NEST)}`)); ctx.end(); },
  },
  "nested-error-400": {
    // A non-2xx whose `error` is not an RFC 6749 string: "any other non-2xx" → http.
    expect: { kinds: ["http"], status: 400 },
    async respond(ctx) { ctx.send(full(400, `{"error":${'{"a":'.repeat(NEST / 5)}1`)); ctx.end(); },
  },

  // --- not where it should be -----------------------------------------------------------------
  ...Object.fromEntries([302, 307].map((status) => [`redirect-${status}`, {
    // README: redirects are not followed; a 3xx is `http`, and the form is never re-posted elsewhere.
    expect: { kinds: ["http"], status, redirect: true },
    async respond(ctx) {
      ctx.send(full(status, "", { Location: `${ctx.upstream.redirectTarget.url}/token` }));
      ctx.end();
    },
  }])),
  "oversized-header": {
    // A 256 KiB header line before a valid token: no sane client buffers unbounded headers. (Not
    // 100 KiB: workerd's fetch accepts a 100 KiB header line and hands the body over — measured —
    // and the package cannot see header sizes there; Node's limit is 16 KiB.)
    expect: { kinds: ["network", "invalid_response"] },
    async respond(ctx) {
      const body = tokenJson("at_behind_huge_header");
      ctx.send(head(200, { "Content-Type": "application/json", "Content-Length": body.length, "X-Padding": "a".repeat(256 * KiB) }) + body);
      ctx.end();
    },
  },
  "ssh-banner": {
    // Not HTTP at all, and the socket stays open (as an SSH server would wait for our banner).
    // Node's fetch rejects the bytes at once (network); workerd's waits for a status line, so the
    // client's own timeout ends it — "no complete response within timeoutMs" is the README's
    // timeout. Either way the client must close the socket it gave up on.
    expect: { kinds: ["network", "invalid_response", "timeout"] },
    async respond(ctx) {
      ctx.send("SSH-2.0-OpenSSH_9.6p1 Debian-3\r\n");
      await ctx.closed;
    },
  },
  "binary-garbage": {
    expect: { kinds: ["network", "invalid_response"] },
    async respond(ctx) {
      ctx.send(garbage(4 * KiB));
      await ctx.sleep(20);
      ctx.end();
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Echo scenarios for the secret-leak sweep: the server sends the values it received back, in
// every spelling the README promises to redact (raw, percent-encoded, JSON-escaped), in bodies,
// error fields, HTML and headers. The expected kind is the README's.
// ---------------------------------------------------------------------------------------------
/** The spellings the README names: raw, percent-encoded, JSON-escaped. */
const README_SPELLINGS = ["raw", "percent", "json"];
/**
 * The secret values the request carried, in the given spellings, joined — as bytes of a text or
 * HTML body. Other spellings have scenarios of their own ("echo-json-unicode-escapes",
 * "echo-form-spelling") so each verdict stays separate.
 */
function echoed(ctx, sep = " | ", which = README_SPELLINGS) {
  const values = [ctx.form.client_secret, ctx.form.code, ctx.form.refresh_token].filter(Boolean);
  return values.flatMap((v) => which.map((k) => spellings(v)[k])).join(sep);
}
/**
 * The same, to be placed between the quotes of a JSON string: the bytes are exactly the spellings
 * (a raw value cannot stand in a JSON string unescaped — a JSON encoder writes its "json"
 * spelling), and the decoded string holds the raw and percent-encoded values.
 */
const echoedInJson = (ctx, which = README_SPELLINGS) => echoed(ctx, " | ", which.filter((k) => k !== "raw"));
export const ECHO_SCENARIOS = {
  "echo-oauth-400": {
    // RFC 6749 error whose description and extra fields carry the secrets.
    expect: { kinds: ["oauth"], status: 400 },
    async respond(ctx) {
      const f = ctx.form;
      ctx.send(full(400, `{"error":"invalid_grant","error_description":"${echoedInJson(ctx)}","client_secret":${JSON.stringify(f.client_secret)},` +
        `"code":${JSON.stringify(f.code ?? "")},"refresh_token":${JSON.stringify(f.refresh_token ?? "")},"echo_form":${JSON.stringify(ctx.raw)}}`));
      ctx.end();
    },
  },
  "echo-in-error-code": {
    // The secret as the OAuth `error` itself (it lands in err.error and in the message).
    expect: { kinds: ["oauth"], status: 400 },
    async respond(ctx) {
      const v = ctx.form.code ?? ctx.form.refresh_token ?? ctx.form.client_secret;
      ctx.send(full(400, JSON.stringify({ error: v, error_description: ctx.form.client_secret })));
      ctx.end();
    },
  },
  "echo-avito-error-403": {
    // Avito's own shape, {"error":{"code","message"}}: errorDescription comes from error.message.
    expect: { kinds: ["http"], status: 403 },
    async respond(ctx) {
      ctx.send(full(403, `{"error":{"code":403,"message":"bad credentials: ${echoedInJson(ctx)}"}}`));
      ctx.end();
    },
  },
  "echo-html-401": {
    // A proxy's HTML page that prints the request back, plus the secrets in headers.
    expect: { kinds: ["http"], status: 401 },
    async respond(ctx) {
      const body = `<!doctype html><title>401</title><h1>Unauthorized</h1><pre>${ctx.raw}</pre><p>${echoed(ctx, "<br>")}</p>`;
      ctx.send(full(401, body, { "Content-Type": "text/html; charset=utf-8", "WWW-Authenticate": `Basic realm="${spellings(ctx.form.client_secret).percent}"`, "X-Echo": ctx.raw }));
      ctx.end();
    },
  },
  "echo-200-not-a-token": {
    // A 2xx whose access_token is not a string: invalid_response, with the body (and its secrets).
    expect: { kinds: ["invalid_response"], status: 200 },
    async respond(ctx) {
      const f = ctx.form;
      ctx.send(full(200, `{"access_token":42,"client_secret":${JSON.stringify(f.client_secret)},"code":${JSON.stringify(f.code ?? "")},` +
        `"refresh_token":${JSON.stringify(f.refresh_token ?? "")},"note":"${echoedInJson(ctx)}"}`));
      ctx.end();
    },
  },
  "echo-200-form-text": {
    // A 2xx that is the request's own form body as text (not JSON at all).
    expect: { kinds: ["invalid_response"], status: 200 },
    async respond(ctx) {
      ctx.send(full(200, `${ctx.raw}\n${echoed(ctx, "\n")}`, { "Content-Type": "text/plain" }));
      ctx.end();
    },
  },
  "echo-2kib-boundary": {
    // The raw secret starts 10 bytes before the 2 KiB mark: truncating before redacting would leave
    // its first 10 characters (more than a marker) in err.body.
    expect: { kinds: ["http"], status: 400 },
    async respond(ctx) {
      const v = ctx.form.code ?? ctx.form.refresh_token ?? ctx.form.client_secret;
      const pad = "x".repeat(2048 - 10 - `{"error_description":"`.length);
      ctx.send(full(400, `{"error_description":"${pad}${JSON.stringify(v).slice(1, -1)} and more"}`, { "Content-Type": "text/html" }));
      ctx.end();
    },
  },
  "echo-redirect-302": {
    // A redirect whose Location and body carry the secrets (percent-encoded in the query).
    expect: { kinds: ["http"], status: 302 },
    async respond(ctx) {
      ctx.send(full(302, `<a href="/x?${ctx.raw}">moved</a> ${echoed(ctx)}`, { Location: `${ctx.upstream.redirectTarget.url}/token?${ctx.raw}`, "Content-Type": "text/html" }));
      ctx.end();
    },
  },
  "echo-json-unicode-escapes": {
    // JSON-escaped as Python's json.dumps (ensure_ascii: ü → \u00fc, 😀 → \ud83d\ude00) and
    // Go's encoding/json (also & → \u0026) write it: still "JSON-escaped", as the bytes of the
    // body (err.body) and decoded (errorDescription, message).
    expect: { kinds: ["oauth"], status: 400 },
    async respond(ctx) {
      ctx.send(full(400, `{"error":"invalid_grant","error_description":"got ${echoedInJson(ctx, ["jsonAscii", "jsonGo"])}"}`));
      ctx.end();
    },
  },
  "echo-form-spelling": {
    // The values as application/x-www-form-urlencoded spells them (`+` for a space, as Go's
    // url.Values.Encode or PHP's http_build_query re-encode a parsed form) — the encoding of the
    // very request body the client sent.
    expect: { kinds: ["oauth"], status: 400 },
    async respond(ctx) {
      ctx.send(full(400, JSON.stringify({ error: "invalid_request", error_description: `got ${echoed(ctx, " & ", ["form"])}` })));
      ctx.end();
    },
  },
  "echo-then-reset": {
    // Half a body full of secrets, then a reset: network (retried for client_credentials).
    expect: { kinds: ["network"], retriedForCC: true },
    async respond(ctx) {
      const body = `{"error":"invalid_grant","error_description":"${echoedInJson(ctx)}"}`;
      ctx.send(head(400, { "Content-Type": "application/json", "Content-Length": body.length * 2 }) + body);
      await ctx.sleep(20);
      ctx.reset();
    },
  },
};

const ALL = { ...SCENARIOS, ...ECHO_SCENARIOS };

// ---------------------------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------------------------
/** Reads one HTTP request (headers + Content-Length or chunked body), bounded in size. */
function parseRequest(buf) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return buf.length > 64 * KiB ? { error: "headers too large" } : null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const [method, path] = lines[0].split(" ");
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let rest = buf.subarray(end + 4);
  let body;
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const parts = [];
    for (;;) {
      const nl = rest.indexOf("\r\n");
      if (nl < 0) return null;
      const size = parseInt(rest.subarray(0, nl).toString("latin1"), 16);
      if (!(size >= 0)) return { error: "bad chunk" };
      if (rest.length < nl + 2 + size + 2) return null;
      if (size === 0) break;
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      rest = rest.subarray(nl + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else {
    const len = Number(headers["content-length"] ?? 0);
    if (!(len >= 0) || len > MiB) return { error: "bad length" };
    if (rest.length < len) return null;
    body = rest.subarray(0, len);
  }
  return { method, path, headers, body };
}

async function listen(host, upstream) {
  const sockets = new Set();
  let connId = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const id = ++connId;
    let buf = Buffer.alloc(0), handled = false, closed = false, serverClosed = false;
    const timers = new Set();
    let resolveClosed;
    const closedP = new Promise((r) => (resolveClosed = r));
    const cap = setTimeout(() => socket.destroy(), MAX_CONNECTION_MS);
    socket.on("error", () => {}); // resets from the client side are expected
    socket.on("close", () => {
      closed = true;
      sockets.delete(socket);
      clearTimeout(cap);
      for (const t of timers) clearTimeout(t);
      resolveClosed();
      if (record) record.closedAt = Date.now(), record.closedByServer = serverClosed;
    });
    let record;
    socket.on("data", (d) => {
      if (handled) return; // one request per connection; anything else is ignored
      buf = Buffer.concat([buf, d]);
      const req = parseRequest(buf);
      if (!req) return;
      handled = true;
      if (req.error) return socket.destroy();
      const raw = req.body.toString("utf8");
      const form = Object.fromEntries(new URLSearchParams(raw));
      // Control: POST /__set/<id>/<scenario> switches an endpoint (used by child processes and Workers).
      const set = /^\/__set\/([^/]+)\/([^/?]+)/.exec(req.path);
      if (set) {
        const ok = upstream.routes.has(set[1]) && ALL[set[2]];
        if (ok) upstream.routes.set(set[1], set[2]);
        socket.end(head(ok ? 204 : 404, { "Content-Length": 0 }));
        return;
      }
      const m = /^\/e\/([^/]+)\/token(?:\?|$)/.exec(req.path);
      const endpoint = m?.[1];
      const scenario = endpoint && upstream.routes.has(endpoint) ? upstream.routes.get(endpoint) : upstream.defaultScenario;
      record = { at: Date.now(), conn: id, endpoint, scenario, method: req.method, path: req.path, headers: req.headers, raw, form, closedAt: undefined, closedByServer: undefined };
      upstream.requests.push(record);
      const ctx = {
        upstream, form, raw, req,
        send: (data) => { if (!closed && !socket.destroyed) socket.write(data); },
        /** Writes with backpressure; false once the client has gone. */
        write: (data) => new Promise((resolve) => {
          if (closed || socket.destroyed) return resolve(false);
          if (socket.write(data)) return resolve(true);
          const done = () => { socket.off("drain", done); socket.off("close", done); resolve(!closed); };
          socket.on("drain", done);
          socket.on("close", done);
        }),
        end: () => { serverClosed = true; socket.end(); },
        /** A TCP RST, not a FIN. */
        reset: () => { serverClosed = true; socket.resetAndDestroy(); },
        sleep: (ms) => new Promise((r) => { const t = setTimeout(() => { timers.delete(t); r(); }, ms); timers.add(t); }),
        closed: closedP,
        isClosed: () => closed,
      };
      ALL[scenario].respond(ctx).catch(() => socket.destroy());
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, resolve);
  });
  const url = `http://${host}:${server.address().port}`;
  return {
    url,
    port: server.address().port,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

/**
 * Starts the hostile endpoint on 127.0.0.1 (and its redirect target on 127.0.0.2).
 * @returns {{ url, port, requests, redirectTarget: { url, requests }, endpoint(scenario), presented(field, value), close() }}
 */
export async function startHostileUpstream({ defaultScenario = "ok" } = {}) {
  let nextEndpoint = 0;
  const upstream = {
    defaultScenario,
    routes: new Map(),
    requests: [],
    issued: 0,
    /** The redirect target on another host: it must never see a request. */
    redirectTarget: { url: "", requests: [] },
    /** A fresh endpoint serving `scenario`; `set()` switches it, `requests` are its own. */
    endpoint(scenario) {
      if (!ALL[scenario]) throw new Error(`no scenario ${scenario}`);
      const id = `ep${++nextEndpoint}`;
      upstream.routes.set(id, scenario);
      return {
        id,
        host: `${main.url}/e/${id}`,
        set(s) { if (!ALL[s]) throw new Error(`no scenario ${s}`); upstream.routes.set(id, s); },
        get requests() { return upstream.requests.filter((r) => r.endpoint === id); },
      };
    },
    /** How many requests presented `value` as form field `field` (e.g. "code", "refresh_token"). */
    presented(field, value) {
      return upstream.requests.filter((r) => r.form[field] === value).length + upstream.redirectTarget.requests.filter((r) => r.form[field] === value).length;
    },
  };
  const main = await listen("127.0.0.1", upstream);
  // The redirect target records what reaches it and answers like a real token endpoint would.
  const targetUpstream = { defaultScenario: "ok", routes: new Map(), requests: upstream.redirectTarget.requests, issued: 0, redirectTarget: upstream.redirectTarget };
  const target = await listen("127.0.0.2", targetUpstream);
  upstream.redirectTarget.url = target.url;
  Object.assign(upstream, {
    url: main.url,
    port: main.port,
    async close() { await Promise.all([main.close(), target.close()]); },
  });
  return upstream;
}

// ---------------------------------------------------------------------------------------------
// Checks shared by the Node and the workerd suites: each returns a list of problems (strings), so
// one failing case reports every broken promise at once, not just the first.
// ---------------------------------------------------------------------------------------------
/** README defaults: `retries: { maxAttempts: 3, baseDelayMs: 250 }`. */
export const RETRIES = { maxAttempts: 3, baseDelayMs: 250 };
/** Scheduling slack on a 2-core machine that may be compiling at the same time. */
export const SLACK_MS = 1500;

/** The longest a hostile call may take: timeoutMs per attempt, plus the largest backoffs, plus slack. */
export function timeBound(singleUse, timeoutMs) {
  // Single-use grants are never retried in these scenarios (no 429/503, never "refused").
  const attempts = singleUse ? 1 : RETRIES.maxAttempts;
  let backoff = 0; // "equal jitter": at most the full exponential delay base·2^(n-1) after attempt n
  for (let n = 1; n < attempts; n++) backoff += RETRIES.baseDelayMs * 2 ** (n - 1);
  return timeoutMs * attempts + backoff + SLACK_MS;
}

/**
 * Canary leaks in `texts` ({ where: text }): for every occurrence of a marker (up to 20 per text),
 * the canary and the spelling it appeared in — possibly escaped again by the rendering itself
 * (JSON.stringify(err) escapes the message once more) — or "partial" (a cut-off piece), with
 * context. One line per (where, canary, spelling).
 */
export function findLeaks(texts, sentValues) {
  const leaks = new Map();
  const jsonEsc = (x) => JSON.stringify(x).slice(1, -1);
  for (const [where, text] of Object.entries(texts)) {
    if (typeof text !== "string") continue;
    for (const marker of CANARY_MARKERS) {
      const value = sentValues.find((v) => v.startsWith(marker)) ?? Object.values(CANARY).find((v) => v.startsWith(marker));
      const name = Object.keys(CANARY).find((k) => CANARY[k].startsWith(marker));
      const variants = Object.entries(spellings(value)).flatMap(([k, sp]) => [[sp, k], [jsonEsc(sp), `${k}, re-escaped by the rendering`], [jsonEsc(jsonEsc(sp)), `${k}, escaped twice by the rendering`]]);
      for (let at = text.indexOf(marker), n = 0; at >= 0 && n < 20; at = text.indexOf(marker, at + 1), n++) {
        // The longest matching variant names it (the raw spelling is a prefix of none of the others).
        const hit = variants.filter(([v]) => text.startsWith(v, at)).sort((a, b) => b[0].length - a[0].length)[0];
        const spelling = hit?.[1] ?? "partial";
        const key = `${where}|${name}|${spelling}`;
        if (!leaks.has(key)) leaks.set(key, `${name} leaked into ${where} (${spelling} spelling): …${JSON.stringify(text.slice(Math.max(0, at - 40), at + 60))}…`);
      }
    }
  }
  return [...leaks.values()];
}

/**
 * The README's promises for one hostile call, as a list of problems.
 *   scenario     — a SCENARIOS / ECHO_SCENARIOS entry (its `expect`)
 *   singleUse    — the grant presents a code or refresh token
 *   outcome      — runCall's result for the hostile call; `reuse` for the follow-up on the same instance
 *   presented    — how many requests carried this call's code/refresh token (single-use grants)
 *   attempts     — how many requests the hostile endpoint received for this call
 *   redirectHits — requests that reached the redirect target on the other host
 *   closes       — for scenarios where the server holds the socket: ms from each request to its close by the client (undefined = never)
 *   sentValues   — the secrets this call sent (for naming a leak's spelling)
 *   extraTexts   — other text to sweep for canaries (console output…)
 */
export function checkOutcome({ scenario, singleUse, timeoutMs, outcome, reuse, presented, attempts, redirectHits, closes, sentValues, extraTexts = {} }) {
  const p = [];
  const ex = scenario.expect;
  const bound = timeBound(singleUse, timeoutMs);
  if (!outcome.settled) {
    p.push(`the call never settled (still pending after ${outcome.elapsedMs} ms; the bound is ${bound} ms)`);
  } else if (ex.kinds.includes("ok")) {
    if (!outcome.ok) p.push(`expected success, got ${outcome.error.kind}: ${outcome.error.renderings.message}`);
    else if (typeof outcome.value?.access_token !== "string") p.push(`success without an access_token: ${JSON.stringify(outcome.value)}`);
  } else if (outcome.ok) {
    p.push(`expected ApiException ${ex.kinds.join("|")}, but the call SUCCEEDED with ${JSON.stringify(outcome.value).slice(0, 200)}`);
  } else {
    const e = outcome.error;
    if (!e.isApiException) p.push(`not an instance of the exported ApiException: ${e.name}: ${e.renderings.message}`);
    if (!e.isError) p.push("not an instance of Error");
    if (e.name !== "ApiException") p.push(`name is ${e.name}`);
    if (!ex.kinds.includes(e.kind)) p.push(`kind "${e.kind}" (expected ${ex.kinds.join(" or ")}): ${e.renderings.message}`);
    if (ex.status !== undefined && e.status !== ex.status) p.push(`status ${e.status} (expected ${ex.status})`);
  }
  if (outcome.settled) {
    if (outcome.elapsedMs > bound) p.push(`settled after ${outcome.elapsedMs} ms, over the bound of ${bound} ms`);
    // A timeout must not fire early either: timeoutMs is per attempt.
    if (!outcome.ok && outcome.error.kind === "timeout" && outcome.elapsedMs < timeoutMs * 0.9) p.push(`timed out after only ${outcome.elapsedMs} ms (timeoutMs ${timeoutMs})`);
  }
  // At most once: every scenario answers only after reading the whole request, so the server may
  // have consumed the credential; the README allows a resend only on 429/503 or "refused".
  if (singleUse && presented !== 1) p.push(`the single-use credential was presented ${presented} times (expected exactly 1)`);
  if (!singleUse && outcome.settled) {
    const kind = outcome.ok ? "ok" : outcome.error.kind;
    if (ex.retriedForCC && ["network", "timeout"].includes(kind) && attempts !== RETRIES.maxAttempts) {
      p.push(`client_credentials made ${attempts} attempts; the README retries ${kind} for client_credentials (maxAttempts ${RETRIES.maxAttempts})`);
    } else if (!["network", "timeout"].includes(kind) && attempts !== 1) {
      p.push(`client_credentials made ${attempts} attempts for a non-retryable ${kind}`);
    } else if (attempts < 1 || attempts > RETRIES.maxAttempts) {
      p.push(`client_credentials made ${attempts} attempts`);
    }
  }
  if (redirectHits > 0) p.push(`${redirectHits} request(s) reached the redirect target on another host (the form was re-posted)`);
  // "really cancels the request": the client closes the connection the server is holding open.
  for (const [i, ms] of (closes ?? []).entries()) {
    if (ms === undefined || ms > timeoutMs + SLACK_MS) p.push(`attempt ${i + 1}: the client did not close the connection ${ms === undefined ? "at all" : `until ${ms} ms`} (timeoutMs ${timeoutMs})`);
  }
  if (!reuse?.settled) p.push("the follow-up call on the same instance never settled");
  else if (!reuse.ok) p.push(`the same instance failed against a well-behaved endpoint afterwards: ${reuse.error.kind}: ${reuse.error.renderings.message}`);
  const texts = { ...extraTexts };
  if (outcome.error) for (const [k, v] of Object.entries(outcome.error.renderings)) texts[`err.${k}`] = v;
  p.push(...findLeaks(texts, sentValues));
  return p;
}

/** A unique canary credential for a grant's single-use field ("code" / "refresh_token"; none for client_credentials). */
export function canaryCredential(field, id) {
  if (field === "code") return uniqueCanary(CANARY.code, id);
  if (field === "refresh_token") return uniqueCanary(CANARY.refreshToken, id);
  return undefined;
}

/** Scenarios where the server holds the socket open: only the client can close it in time. */
const HOLDS_SOCKET = ["stall-after-headers", "trickle-body", "ssh-banner"];

/**
 * What the server saw of one hostile call (its requests on endpoint `ep` while it served
 * `scenarioName`), as the facts checkOutcome judges. `field` is the grant's single-use field.
 */
export async function gatherFacts(upstream, { scenarioName, field, ep, cred, outcome, timeoutMs }) {
  const hostile = upstream.requests.filter((r) => r.endpoint === ep.id && r.scenario === scenarioName);
  let closes;
  if (HOLDS_SOCKET.includes(scenarioName)) {
    // Bounded wait (≤ timeoutMs + 1 s, 20 ms polls) for the client to close what it gave up on.
    for (let i = 0; i < (timeoutMs + 1000) / 20 && !hostile.every((r) => r.closedAt !== undefined); i++) await new Promise((r) => setTimeout(r, 20));
    closes = hostile.map((r) => (r.closedAt === undefined || r.closedByServer ? undefined : r.closedAt - r.at));
  }
  return {
    scenario: ALL[scenarioName],
    singleUse: Boolean(field),
    timeoutMs,
    outcome,
    presented: field ? upstream.presented(field, cred) : undefined,
    attempts: hostile.length,
    redirectHits: upstream.redirectTarget.requests.length,
    closes,
    sentValues: [CANARY.clientSecret, cred].filter(Boolean),
  };
}
