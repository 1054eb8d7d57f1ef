// Token storage for Node fleets in Redis: the TokenSet under `key`, compare-and-set in a Lua
// script (comparing access_token, refresh_token and renewal.id), the renewal lease with SET NX PX
// under `${key}\0lease` (a renewer that dies frees it after `leaseMs`). Account keys cannot hold
// U+0000 (checkKey), so no account's TokenSet or lease can sit under another account's lease name.
// Works with node-redis (v4/v5: `sendCommand`) and ioredis (`call`); the client is an optional
// peer dependency. This module does not load the wasm.
import { webcrypto } from "node:crypto";
import { checkKey, checkNext, checkTtlMs, invalidArgument, newLeaseId } from "./store-protocol.js";

// The protocol's compare step (tokensMatch in store-protocol.js), run inside Redis so that the
// compare and the write are one atomic step: access_token, refresh_token and renewal.id, each as
// "string or absent" (ARGV: "s:"..value, or "" when absent); ARGV[4] == "1": expected is empty.
const CAS = `
local cur = redis.call('GET', KEYS[1])
if ARGV[4] == '1' then
  if cur then return 0 end
  redis.call('SET', KEYS[1], ARGV[5]) return 1
end
if not cur then return 0 end
local function text(v) if type(v) == 'string' then return 's:' .. v end return '' end
local t = cjson.decode(cur)
local id = ''
if type(t.renewal) == 'table' then id = text(t.renewal.id) end
if text(t.access_token) == ARGV[1] and text(t.refresh_token) == ARGV[2] and id == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[5]) return 1
end
return 0`;
const text = (v) => (typeof v === "string" ? `s:${v}` : "");
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** The Redis key of an account's renewal lease (README "Redis store": the key layout). */
export const leaseKeyOf = (key) => `${key}\u0000lease`;

export class RedisTokenStore {
  #send;
  #key;
  #leaseKey;
  constructor({ client, key } = {}) {
    // ioredis first: it has a `sendCommand` too, but one that takes a Command object.
    if (client && typeof client.call === "function") this.#send = (args) => client.call(...args);
    else if (client && typeof client.sendCommand === "function") this.#send = (args) => client.sendCommand(args);
    else throw invalidArgument("RedisTokenStore needs a connected node-redis or ioredis client");
    this.#key = checkKey("RedisTokenStore", key);
    this.#leaseKey = leaseKeyOf(key);
  }
  async get() {
    const raw = await this.#send(["GET", this.#key]);
    return raw == null ? undefined : JSON.parse(String(raw));
  }
  async compareAndSet(expected, next) {
    checkNext("RedisTokenStore", next);
    const empty = expected == null;
    const r = await this.#send(["EVAL", CAS, "1", this.#key, text(expected?.access_token), text(expected?.refresh_token), text(expected?.renewal?.id), empty ? "1" : "0", JSON.stringify(next)]);
    return Number(r) === 1;
  }
  async acquireLease(ttlMs) {
    const ttl = checkTtlMs("RedisTokenStore", ttlMs);
    const id = newLeaseId(webcrypto);
    const ok = await this.#send(["SET", this.#leaseKey, id, "NX", "PX", String(ttl)]);
    return ok == null ? undefined : id;
  }
  async releaseLease(leaseId) {
    if (typeof leaseId !== "string") return;
    await this.#send(["EVAL", RELEASE, "1", this.#leaseKey, leaseId]);
  }
}
