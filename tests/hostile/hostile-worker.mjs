// The hostile-upstream calls, written once for every place they run: the Node test process, the
// Node child processes that measure memory and exit behaviour, and a Cloudflare Worker under
// workerd. No Node-only import here: the Worker bundle (wrangler) includes this file.
//
// `makeClient` builds one client instance for a grant; `runCall` makes one call and returns a
// plain, JSON-serialisable outcome (every rendering of the error a user might print or log), so
// the assertions live in one place (hostile.test.mjs / hostile-workerd.test.mjs) whatever ran it.
//
// As a Worker (see `makeWorker`): POST /call {caseId, grant, host, timeoutMs, clientSecret, cred}
// keeps the instance under caseId and returns the outcome; POST /reuse {caseId, cred} calls the
// same instance again (from a later request, as a module-scope client in a real Worker would be).

export const CLIENT_ID = "hostile-client";

/**
 * The grants under test: the ergonomic AvitoAuth methods and the seed-shaped layer.
 * `secretField` is the single-use form field (the code or refresh token), absent for
 * client_credentials.
 */
export const GRANTS = {
  exchangeCode: { secretField: "code", make: (lib, o) => { const a = new lib.AvitoAuth(o); return (cred) => a.exchangeCode(cred); } },
  refresh: { secretField: "refresh_token", make: (lib, o) => { const a = new lib.AvitoAuth(o); return (cred) => a.refresh(cred); } },
  clientCredentials: { make: (lib, o) => { const a = new lib.AvitoAuth(o); return () => a.clientCredentials(); } },
  "ApplicationAccessApi.getAccessTokenAuthorizationCode": {
    secretField: "code",
    make: (lib, o) => { const api = new lib.ApplicationAccessApi(new lib.ApiClient(new lib.Configuration(conf(o)))); return (cred) => api.getAccessTokenAuthorizationCode(o.clientId, o.clientSecret, cred); },
  },
  "ApplicationAccessApi.refreshAccessTokenAuthorizationCode": {
    secretField: "refresh_token",
    make: (lib, o) => { const api = new lib.ApplicationAccessApi(new lib.ApiClient(new lib.Configuration(conf(o)))); return (cred) => api.refreshAccessTokenAuthorizationCode(o.clientId, o.clientSecret, undefined, cred); },
  },
  "AccessApi.getAccessToken": {
    make: (lib, o) => { const api = new lib.AccessApi(new lib.ApiClient(new lib.Configuration(conf(o)))); return () => api.getAccessToken(o.clientId, o.clientSecret); },
  },
};
const conf = ({ host, timeoutMs, fetch }) => ({ host, ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(fetch === undefined ? {} : { fetch }) });

/** One client instance for `grant` (options: host, timeoutMs, clientSecret, and a caller's fetch). */
export function makeClient(lib, grant, { host, timeoutMs, clientSecret, fetch }) {
  const o = { clientId: CLIENT_ID, clientSecret, host };
  if (timeoutMs !== undefined) o.timeoutMs = timeoutMs;
  if (fetch !== undefined) o.fetch = fetch;
  return { lib, call: GRANTS[grant].make(lib, o) };
}

/** Never lets a rendering attempt throw (a hostile getter, a cycle): the failure is the rendering. */
function render(f) {
  try {
    const v = f();
    return v === undefined ? undefined : String(v);
  } catch (e) {
    return `<rendering threw: ${e && e.message}>`;
  }
}

/** Every way a user might print, log or serialise an error (and its cause). */
export function renderings(err, inspect) {
  const cause = (() => { try { return err?.cause; } catch { return undefined; } })();
  return {
    message: render(() => err.message),
    string: render(() => String(err)),
    json: render(() => JSON.stringify(err)),
    stack: render(() => err.stack),
    body: render(() => (err.body === undefined ? undefined : typeof err.body === "string" ? err.body : JSON.stringify(err.body))),
    errorDescription: render(() => err.errorDescription),
    error: render(() => err.error),
    cause: cause === undefined ? undefined : [render(() => String(cause)), render(() => JSON.stringify(cause)), render(() => cause.stack), inspect ? render(() => inspect(cause, { showHidden: true, depth: 9 })) : ""].join("\n"),
    ...(inspect ? { inspect: render(() => inspect(err, { showHidden: true, depth: 9 })) } : {}),
  };
}

/** One call; the outcome is plain data. `deadlineMs` bounds the wait (a hung call is a result too). */
export async function runCall(client, cred, { inspect, deadlineMs = 60_000 } = {}) {
  const started = Date.now();
  let timer;
  const deadline = new Promise((resolve) => { timer = setTimeout(() => resolve({ settled: false }), deadlineMs); });
  const call = (async () => {
    try {
      const value = await client.call(cred);
      return { settled: true, ok: true, value: JSON.parse(JSON.stringify(value ?? null)) };
    } catch (e) {
      return {
        settled: true,
        ok: false,
        error: {
          isApiException: e instanceof client.lib.ApiException,
          isError: e instanceof Error,
          name: render(() => e.name),
          kind: render(() => e.kind),
          status: typeof e?.status === "number" ? e.status : undefined,
          retryable: e?.retryable,
          renderings: renderings(e, inspect),
        },
      };
    }
  })();
  const outcome = await Promise.race([call, deadline]);
  clearTimeout(timer);
  outcome.elapsedMs = Date.now() - started;
  return outcome;
}

/** Console output captured inside this realm (a Worker has no other way to show it to the test). */
export const captured = [];
export function installConsoleSpy(target = globalThis.console) {
  for (const level of ["log", "info", "warn", "error", "debug", "trace"]) {
    const original = target[level];
    target[level] = (...args) => {
      captured.push(`${level}: ${args.map((a) => { try { return typeof a === "string" ? a : a instanceof Error ? `${a.stack}\n${JSON.stringify(a)}` : JSON.stringify(a); } catch { return String(a); } }).join(" ")}`);
      return original?.apply(target, args);
    };
  }
}

// Inside workerd this module is evaluated before avito-auth (the entry imports it first), so the
// spy is in place even if the package keeps references to console methods.
const inWorkerd = typeof navigator !== "undefined" && navigator.userAgent === "Cloudflare-Workers";
const unhandled = [];
if (inWorkerd) {
  installConsoleSpy();
  globalThis.addEventListener?.("unhandledrejection", (event) => unhandled.push(String(event.reason?.stack ?? event.reason)));
}

/** The Worker: `export default makeWorker(lib)` in an entry that imports this module first. */
export function makeWorker(lib) {
  const clients = new Map();
  const json = (v) => new Response(JSON.stringify(v), { headers: { "content-type": "application/json" } });
  return {
    async fetch(request) {
      const url = new URL(request.url);
      const q = request.method === "POST" ? await request.json() : {};
      if (url.pathname === "/call") {
        const client = makeClient(lib, q.grant, q);
        clients.set(q.caseId, client);
        return json({ outcome: await runCall(client, q.cred, { deadlineMs: q.deadlineMs }) });
      }
      if (url.pathname === "/reuse") {
        return json({ outcome: await runCall(clients.get(q.caseId), q.cred, { deadlineMs: q.deadlineMs }) });
      }
      if (url.pathname === "/unhandled-probe") {
        // Proves the "unhandledrejection" listener works: the test expects exactly this one.
        Promise.reject(new Error("hostile-unhandled-probe"));
        await new Promise((r) => setTimeout(r, 20));
        return json({});
      }
      if (url.pathname === "/platform-reader-probe") {
        // No avito-auth here: plain JS reading a fetch body with a reader while the upstream
        // resets mid-body. workerd reports its own internal rejection as unhandled (see the test).
        unhandled.length = 0;
        try {
          const res = await fetch(q.target, { method: "POST", body: "probe=1" });
          const reader = res.body.getReader();
          for (;;) if ((await reader.read()).done) break;
        } catch { /* expected: the connection was reset */ }
        await new Promise((r) => setTimeout(r, 50));
        return json({ unhandled: unhandled.splice(0) });
      }
      if (url.pathname === "/console-probe") {
        // Proves the console channels work: the test expects this line in both of them.
        console.warn("hostile-console-probe");
        return json({});
      }
      if (url.pathname === "/observations") {
        return json({ console: captured.slice(), unhandled: unhandled.slice() });
      }
      return new Response("not found", { status: 404 });
    },
  };
}
