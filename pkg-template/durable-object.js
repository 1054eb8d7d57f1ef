// Token storage for Cloudflare Workers: one Durable Object per Avito account serialises token
// renewals for every isolate. Export `AvitoTokensDurableObject` from your Worker, bind it
// (wrangler: [[durable_objects.bindings]] name = "AVITO_TOKENS", class_name = "AvitoTokensDurableObject"),
// and give each TokenManager a `DurableObjectTokenStore` over the account's stub.
// This module does not load the wasm.
import { checkNext, checkTtlMs, invalidArgument, newLeaseId, tokensMatch } from "./store-protocol.js";

/** The Durable Object: holds the TokenSet in durable storage and the renewal lease in memory. */
export class AvitoTokensDurableObject {
  constructor(state) {
    this.storage = state.storage;
    this.lease = null;
  }
  async fetch(request) {
    const { op, expected, next, ttlMs, leaseId } = await request.json();
    let result;
    switch (op) {
      case "get":
        result = (await this.storage.get("tokens")) ?? null;
        break;
      case "cas": {
        // Durable Object storage operations in one request are atomic with respect to others.
        const current = (await this.storage.get("tokens")) ?? null;
        result = tokensMatch(current, expected);
        if (result) await this.storage.put("tokens", next);
        break;
      }
      case "acquire": {
        const now = Date.now();
        if (this.lease && this.lease.until > now) result = null;
        else {
          this.lease = { id: newLeaseId(), until: now + ttlMs };
          result = this.lease.id;
        }
        break;
      }
      case "release":
        if (this.lease?.id === leaseId) this.lease = null;
        result = true;
        break;
      default:
        return new Response("unknown op", { status: 400 });
    }
    return Response.json({ result });
  }
}

/** A TokenStore backed by an AvitoTokensDurableObject stub. */
export class DurableObjectTokenStore {
  #stub;
  constructor(stub) {
    if (!stub || typeof stub.fetch !== "function") throw invalidArgument("DurableObjectTokenStore needs a Durable Object stub");
    this.#stub = stub;
  }
  async #call(body) {
    const res = await this.#stub.fetch("https://avito-tokens.internal/", { method: "POST", body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`token Durable Object answered ${res.status}`);
    return (await res.json()).result;
  }
  async get() {
    return (await this.#call({ op: "get" })) ?? undefined;
  }
  async compareAndSet(expected, next) {
    checkNext("DurableObjectTokenStore", next);
    return this.#call({ op: "cas", expected: expected ?? null, next });
  }
  async acquireLease(ttlMs) {
    return (await this.#call({ op: "acquire", ttlMs: checkTtlMs("DurableObjectTokenStore", ttlMs) })) ?? undefined;
  }
  async releaseLease(leaseId) {
    await this.#call({ op: "release", leaseId });
  }
}
