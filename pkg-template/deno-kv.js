// Token storage in Deno KV (Deno Deploy, or Deno.openKv(path) shared by processes on one host).
// The TokenSet lives under [...prefix, key, "tokens"]; compareAndSet reads it, compares what the
// protocol compares (access_token, refresh_token, renewal.id) and commits only if the entry's
// versionstamp is unchanged (atomic().check). The lease is a second entry written with expireIn;
// Deno KV deletes expired entries lazily, so its value also carries the expiry time and an expired
// lease counts as free. This module does not load the wasm.
import { checkKey, checkNext, checkTtlMs, invalidArgument, newLeaseId, tokensMatch } from "./store-protocol.js";

const MAX_TRIES = 32;
// A local KV file shared by processes is SQLite: a write that meets another process's write lock
// fails with "database is locked" instead of waiting. Such a call changed nothing and is retried
// after a short random pause (bounded: about 2 s in all), then its error is thrown.
const BUSY_TRIES = 60;
const busy = (e) => /database is locked|SQLITE_BUSY/i.test(String(e?.message ?? e));
async function patiently(op) {
  for (let i = 1; ; i++) {
    try {
      return await op();
    } catch (e) {
      if (!busy(e) || i >= BUSY_TRIES) throw e;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
    }
  }
}

export class DenoKvTokenStore {
  #kv;
  #tokens;
  #lease;
  constructor({ kv, key, prefix = ["avito-auth"] } = {}) {
    if (!kv || typeof kv.get !== "function" || typeof kv.atomic !== "function") throw invalidArgument("DenoKvTokenStore needs a Deno.Kv (await Deno.openKv())");
    checkKey("DenoKvTokenStore", key);
    if (!Array.isArray(prefix)) throw invalidArgument("DenoKvTokenStore: prefix must be an array of Deno KV key parts");
    this.#kv = kv;
    this.#tokens = [...prefix, key, "tokens"];
    this.#lease = [...prefix, key, "lease"];
  }
  async get() {
    return (await patiently(() => this.#kv.get(this.#tokens))).value ?? undefined;
  }
  async compareAndSet(expected, next) {
    checkNext("DenoKvTokenStore", next);
    // A failed commit means the entry changed between the read and the commit: read it again and
    // decide on the new value (bounded: a store that changes this often refuses the write).
    for (let i = 0; i < MAX_TRIES; i++) {
      const cur = await patiently(() => this.#kv.get(this.#tokens));
      if (!tokensMatch(cur.value, expected)) return false;
      const { ok } = await patiently(() => this.#kv.atomic().check(cur).set(this.#tokens, next).commit());
      if (ok) return true;
    }
    return false;
  }
  async acquireLease(ttlMs) {
    const ttl = checkTtlMs("DenoKvTokenStore", ttlMs);
    const cur = await patiently(() => this.#kv.get(this.#lease));
    if (cur.value != null && cur.value.until > Date.now()) return undefined;
    const id = newLeaseId();
    const { ok } = await patiently(() => this.#kv.atomic().check(cur).set(this.#lease, { id, until: Date.now() + ttl }, { expireIn: ttl }).commit());
    return ok ? id : undefined;
  }
  async releaseLease(leaseId) {
    const cur = await patiently(() => this.#kv.get(this.#lease));
    if (cur.value == null || cur.value.id !== leaseId) return;
    await patiently(() => this.#kv.atomic().check(cur).delete(this.#lease).commit());
  }
}
