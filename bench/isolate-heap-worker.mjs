// The Worker of bench/isolate-heap.mjs (bundled by wrangler with the packed avito-auth, run under
// workerd by Miniflare): faulty token requests in batches, and the size of the package's wasm
// linear memory, for the harness to measure the isolate between batches.
//   GET  /wasm                 → { wasmBytes }: the WebAssembly.Memory buffer's byteLength
//   POST /seed                 body: a TokenSet → stored in the Durable Object (compare-and-set)
//   POST /phase                body: { kind, n, concurrency, host } → { calls, errors: { key: count } }
// kinds (every call against a token server that never answers, or that answers, for "ok"):
//   ok        AvitoAuth.clientCredentials() answered (the warm-up; the calls the growth is not from)
//   timeout   AvitoAuth.clientCredentials(), its own timeoutMs fires (one attempt)
//   abort     AvitoAuth.clientCredentials({ signal }), the caller's AbortSignal.timeout fires first
//   tm        TokenManager.getAccessToken({ signal }) over the Durable Object: the renewal hangs
//             and times out, the callers waiting on it are aborted by their deadline (the soak's
//             "token:aborted", most of its failures)
//   tm-settled  the same, and the request waits for each TokenManager's renewal to end before
//             it returns (as the soak Worker's ctx.waitUntil does)
//   bare      a plain fetch() under AbortSignal.timeout, no avito-auth: workerd's own share
//             (answered when the harness turns faults off)
import { AvitoAuth, ApiException, TokenManager } from "avito-auth";
import { AvitoTokensDurableObject, DurableObjectTokenStore } from "avito-auth/durable-object";
// The same module instance workerd.js initialised (one bundle): initSync() returns its exports.
import { initSync } from "./node_modules/avito-auth/avito_auth.js";

export { AvitoTokensDurableObject };

const CLIENT = { clientId: "soak-client", clientSecret: "soak-secret" };

/** What a failed call was: an ApiException's kind, or the platform error's name. */
const keyOf = (e) => (e instanceof ApiException ? `${e.kind}` : `untyped:${e?.name}`);

/** `n` calls of `call(i)`, `concurrency` at a time; the count of each outcome. */
async function run(n, concurrency, call) {
  const errors = {};
  let next = 0;
  let ok = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++;
      try {
        await call(i);
        ok++;
      } catch (e) {
        const k = keyOf(e);
        errors[k] = (errors[k] ?? 0) + 1;
      }
    }
  }));
  return { calls: n, ok, errors };
}

function phase(kind, { n, concurrency, host, timeoutMs, deadlineMs }, store) {
  const auth = (ms) => new AvitoAuth({ ...CLIENT, host, timeoutMs: ms, retries: { maxAttempts: 1 } });
  switch (kind) {
    case "ok":
    case "timeout": {
      const a = auth(timeoutMs);
      return run(n, concurrency, () => a.clientCredentials());
    }
    case "abort": {
      const a = auth(timeoutMs * 10);
      return run(n, concurrency, () => a.clientCredentials({ signal: AbortSignal.timeout(deadlineMs) }));
    }
    case "tm":
    case "tm-settled": {
      // One TokenManager per batch of `concurrency` callers, as a Worker request builds its own.
      // "tm" returns with the abandoned renewals still running (a Worker that returns its
      // response and does not waitUntil them); "tm-settled" waits for each (the soak Worker's
      // ctx.waitUntil(tm.getAccessToken())).
      const renewals = [];
      const batch = async () => {
        const tm = new TokenManager({ auth: auth(timeoutMs), grant: "refresh_token", store, leaseMs: timeoutMs, refreshSkewMs: 1500 });
        const r = await run(concurrency, concurrency, () => tm.getAccessToken({ signal: AbortSignal.timeout(deadlineMs) }));
        if (kind === "tm-settled") renewals.push(tm.getAccessToken().catch(() => {}));
        return r;
      };
      return (async () => {
        const total = { calls: 0, ok: 0, errors: {} };
        for (let done = 0; done < n; done += concurrency) {
          const r = await batch();
          total.calls += r.calls;
          total.ok += r.ok;
          for (const [k, v] of Object.entries(r.errors)) total.errors[k] = (total.errors[k] ?? 0) + v;
        }
        await Promise.all(renewals);
        return total;
      })();
    }
    case "bare": {
      const body = new URLSearchParams({ grant_type: "client_credentials", client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret });
      return run(n, concurrency, async () => {
        const res = await fetch(`${host}/token`, { method: "POST", body, signal: AbortSignal.timeout(deadlineMs) });
        await res.arrayBuffer();
      });
    }
    default:
      throw new Error(`unknown phase ${kind}`);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const store = new DurableObjectTokenStore(env.AVITO_TOKENS.get(env.AVITO_TOKENS.idFromName("heap")));
    if (url.pathname === "/wasm") return Response.json({ wasmBytes: initSync().memory.buffer.byteLength });
    if (url.pathname === "/seed" && request.method === "POST") {
      return Response.json({ stored: await store.compareAndSet(await store.get(), await request.json()) });
    }
    if (url.pathname === "/phase" && request.method === "POST") {
      const cfg = await request.json();
      return Response.json(await phase(cfg.kind, cfg, store));
    }
    return new Response("not found\n", { status: 404 });
  },
};
